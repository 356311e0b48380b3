namespace TdxSim.Images;

/// <summary>
/// Loads a guest image for <c>tdxsim run --image</c> (contract section 2): an ELF64 x86-64 executable,
/// recognised by its magic, or else a flat binary placed at <see cref="ImageLoadOptions.LoadAddress"/>.
/// Every problem is reported as an <see cref="ImageFormatException"/> with a one-line message.
/// </summary>
public static class ImageLoader
{
    /// <summary>True when <paramref name="bytes"/> start with the ELF magic (and so load as ELF64).</summary>
    public static bool IsElf(ReadOnlySpan<byte> bytes) => Elf64.HasMagic(bytes);

    /// <summary>Parses and validates an image held in memory. The returned segments own a copy of the bytes.</summary>
    /// <exception cref="ImageFormatException">The image is malformed, not x86-64, or does not fit the machine.</exception>
    /// <exception cref="ArgumentOutOfRangeException">The options are inconsistent (see <see cref="ImageLoadOptions.Validate"/>).</exception>
    public static GuestImage Load(ReadOnlySpan<byte> bytes, ImageLoadOptions? options = null) =>
        LoadOwned(bytes.ToArray(), options ?? ImageLoadOptions.Default);

    /// <summary>Reads, parses and validates an image file. Messages are prefixed with the path.</summary>
    /// <exception cref="ImageFormatException">The file is missing or unreadable, or the image is invalid.</exception>
    /// <exception cref="ArgumentOutOfRangeException">The options are inconsistent.</exception>
    public static GuestImage LoadFile(string path, ImageLoadOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        options ??= ImageLoadOptions.Default;
        options.Validate();
        byte[] bytes = ReadFile(path);
        try
        {
            return LoadOwned(bytes, options);
        }
        catch (ImageFormatException e)
        {
            throw new ImageFormatException($"{path}: {e.Message}", e);
        }
    }

    /// <summary>Places a flat binary at <see cref="ImageLoadOptions.LoadAddress"/>.</summary>
    /// <exception cref="ImageFormatException">The image is empty, misaligned or does not fit.</exception>
    public static GuestImage LoadFlat(ReadOnlySpan<byte> bytes, ImageLoadOptions? options = null) =>
        LoadFlatOwned(bytes.ToArray(), options ?? ImageLoadOptions.Default);

    private static GuestImage LoadOwned(byte[] bytes, ImageLoadOptions options)
    {
        options.Validate();
        if (bytes.Length == 0)
        {
            throw new ImageFormatException("image is empty (0 bytes)");
        }

        if (!Elf64.HasMagic(bytes))
        {
            return LoadFlatOwned(bytes, options);
        }

        (List<LoadedSegment> segments, ulong elfEntry) = Elf64.Read(bytes);
        ImagePlacement.Check(segments, options);
        ulong entry = options.Entry ?? elfEntry;
        ImagePlacement.CheckEntry(segments, entry, options.Entry.HasValue, requireExecutable: true);
        return new GuestImage(GuestImageFormat.Elf64, entry, segments.Select(s => s.Segment).ToArray());
    }

    private static GuestImage LoadFlatOwned(byte[] bytes, ImageLoadOptions options)
    {
        options.Validate();
        if (bytes.Length == 0)
        {
            throw new ImageFormatException("image is empty (0 bytes)");
        }

        ulong load = options.LoadAddress;
        if (load % ImageLoadOptions.FlatLoadAlignment != 0)
        {
            throw new ImageFormatException($"flat image load address 0x{load:x} is not 4 KiB aligned");
        }

        var segment = new LoadedSegment(0, new ImageSegment(load, bytes, (ulong)bytes.Length), Executable: true);
        LoadedSegment[] segments = [segment];
        ImagePlacement.Check(segments, options);
        ulong entry = options.Entry ?? load;
        ImagePlacement.CheckEntry(segments, entry, options.Entry.HasValue, requireExecutable: false);
        return new GuestImage(GuestImageFormat.Flat, entry, [segment.Segment]);
    }

    private static byte[] ReadFile(string path)
    {
        try
        {
            return File.ReadAllBytes(path);
        }
        catch (FileNotFoundException e)
        {
            throw new ImageFormatException($"{path}: image file not found", e);
        }
        catch (DirectoryNotFoundException e)
        {
            throw new ImageFormatException($"{path}: image file not found (no such directory)", e);
        }
        catch (UnauthorizedAccessException e)
        {
            throw new ImageFormatException($"{path}: image file cannot be read (permission denied or a directory)", e);
        }
        catch (IOException e)
        {
            throw new ImageFormatException($"{path}: image file cannot be read: {e.Message}", e);
        }
    }
}
