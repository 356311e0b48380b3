using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using TdxSim.TdxModule.Attestation;

namespace TdxSim.TdxModule.Tests;

/// <summary>MRTD of a loaded image: TDH.MEM.PAGE.ADD and TDH.MR.EXTEND blocks hashed with SHA-384.</summary>
public sealed class MeasurementTests
{
    private static byte[] Block(string tag, ulong gpa)
    {
        byte[] block = new byte[128];
        Encoding.ASCII.GetBytes(tag).CopyTo(block, 0);
        BinaryPrimitives.WriteUInt64LittleEndian(block.AsSpan(16), gpa);
        return block;
    }

    [Fact]
    public void OnePage_IsAddThenSixteenExtends()
    {
        byte[] image = Enumerable.Range(0, 300).Select(i => (byte)i).ToArray();
        using var expected = IncrementalHash.CreateHash(HashAlgorithmName.SHA384);
        expected.AppendData(Block("MEM.PAGE.ADD", 0x10_0000));
        byte[] page = new byte[4096];
        image.CopyTo(page, 0);
        for (int c = 0; c < 16; c++)
        {
            expected.AppendData(Block("MR.EXTEND", 0x10_0000 + ((ulong)c * 256)));
            expected.AppendData(page, c * 256, 256);
        }

        Assert.Equal(expected.GetHashAndReset(), TdMeasurement.MeasureImage(0x10_0000, image));
    }

    [Fact]
    public void Measurement_DependsOnContentAndPlacement()
    {
        byte[] image = new byte[5000];
        image[4999] = 1;
        byte[] a = TdMeasurement.MeasureImage(0x10_0000, image);
        Assert.Equal(48, a.Length);
        Assert.Equal(a, TdMeasurement.MeasureImage(0x10_0000, image));
        Assert.NotEqual(a, TdMeasurement.MeasureImage(0x20_0000, image));
        image[4999] = 2;
        Assert.NotEqual(a, TdMeasurement.MeasureImage(0x10_0000, image));
    }

    [Fact]
    public void UnalignedGpa_Throws()
    {
        var ex = Assert.Throws<ArgumentException>(() => TdMeasurement.MeasureImage(0x10_0800, new byte[16]));
        Assert.Contains("0x100800", ex.Message, StringComparison.Ordinal);
    }
}
