namespace TdxSim.Images;

/// <summary>
/// A segment with what placement checks need beyond <see cref="ImageSegment"/>: its index in the
/// image (the ELF program header index, as readelf numbers segments) and whether it is executable.
/// </summary>
internal readonly record struct LoadedSegment(int Index, ImageSegment Segment, bool Executable);
