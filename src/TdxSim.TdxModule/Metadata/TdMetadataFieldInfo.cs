namespace TdxSim.TdxModule.Metadata;

/// <summary>A TD-scope metadata field the guest may read (and maybe write) with TDG.VM.RD/WR.</summary>
/// <param name="Id">The canonical field id (TD context, element size 8 bytes where applicable).</param>
/// <param name="Name">The spec name.</param>
/// <param name="GuestWriteMask">Bits the guest may change; 0 = read-only for the guest.</param>
public readonly record struct TdMetadataFieldInfo(ulong Id, string Name, ulong GuestWriteMask);
