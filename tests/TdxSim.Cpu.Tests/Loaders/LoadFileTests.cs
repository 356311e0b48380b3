using TdxSim.Images;

namespace TdxSim.Cpu.Tests.Loaders;

public sealed class LoadFileTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("tdxsim-loader-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void LoadFile_Missing_NamesThePath()
    {
        string path = Path.Combine(_dir, "nope.elf");

        var e = Assert.Throws<ImageFormatException>(() => ImageLoader.LoadFile(path));

        Assert.Equal($"{path}: image file not found", e.Message);
    }

    [Fact]
    public void LoadFile_MissingDirectory_NamesThePath()
    {
        string path = Path.Combine(_dir, "no", "such", "guest.bin");

        var e = Assert.Throws<ImageFormatException>(() => ImageLoader.LoadFile(path));

        Assert.Equal($"{path}: image file not found (no such directory)", e.Message);
    }

    [Fact]
    public void LoadFile_Directory_IsUnreadable()
    {
        var e = Assert.Throws<ImageFormatException>(() => ImageLoader.LoadFile(_dir));

        Assert.StartsWith($"{_dir}: image file cannot be read", e.Message);
    }

    [Fact]
    public void LoadFile_BadImage_PrefixesTheMessageWithThePath()
    {
        string path = Path.Combine(_dir, "empty.bin");
        File.WriteAllBytes(path, []);

        var e = Assert.Throws<ImageFormatException>(() => ImageLoader.LoadFile(path));

        Assert.Equal($"{path}: image is empty (0 bytes)", e.Message);
    }

    [Fact]
    public void LoadFile_FlatFile_LoadsAtTheLoadAddress()
    {
        string path = Path.Combine(_dir, "guest.bin");
        File.WriteAllBytes(path, [0xF4]);

        GuestImage image = ImageLoader.LoadFile(path, new ImageLoadOptions { LoadAddress = 0x8000 });

        Assert.Equal(0x8000UL, image.Entry);
        Assert.Equal([0xF4], image.Segments[0].Data.ToArray());
    }
}
