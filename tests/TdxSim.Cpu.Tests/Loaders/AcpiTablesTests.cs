using System.Buffers.Binary;
using System.Text;
using TdxSim.Images;

namespace TdxSim.Cpu.Tests.Loaders;

/// <summary>The ACPI tables a Linux guest gets: checksums, the XSDT's MADT, one x2APIC structure per vCPU, the wakeup mailbox.</summary>
public sealed class AcpiTablesTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(4)]
    public void Rsdp_xsdt_and_madt_are_well_formed(int vcpus)
    {
        byte[] t = AcpiTables.Build(vcpus);
        Assert.Equal("RSD PTR ", Encoding.ASCII.GetString(t, 0, 8));
        Assert.Equal(0, Sum(t.AsSpan(0, 20)));
        Assert.Equal(0, Sum(t.AsSpan(0, 36)));
        ulong xsdt = BinaryPrimitives.ReadUInt64LittleEndian(t.AsSpan(24)) - AcpiTables.RsdpGpa;
        Assert.Equal("XSDT", Encoding.ASCII.GetString(t, (int)xsdt, 4));
        int xsdtLength = BinaryPrimitives.ReadInt32LittleEndian(t.AsSpan((int)xsdt + 4));
        Assert.Equal(0, Sum(t.AsSpan((int)xsdt, xsdtLength)));
        int madt = (int)(BinaryPrimitives.ReadUInt64LittleEndian(t.AsSpan((int)xsdt + 36)) - AcpiTables.RsdpGpa);
        Assert.Equal("APIC", Encoding.ASCII.GetString(t, madt, 4));
        int length = BinaryPrimitives.ReadInt32LittleEndian(t.AsSpan(madt + 4));
        Assert.Equal(0, Sum(t.AsSpan(madt, length)));
        Assert.Equal(0xFEE0_0000u, BinaryPrimitives.ReadUInt32LittleEndian(t.AsSpan(madt + 36)));

        var ids = new List<uint>();
        ulong mailbox = 0;
        for (int at = madt + 44; at < madt + length; at += t[at + 1])
        {
            switch (t[at])
            {
                case 9:
                    Assert.Equal(1u, BinaryPrimitives.ReadUInt32LittleEndian(t.AsSpan(at + 8)));
                    ids.Add(BinaryPrimitives.ReadUInt32LittleEndian(t.AsSpan(at + 4)));
                    break;
                case 0x10:
                    mailbox = BinaryPrimitives.ReadUInt64LittleEndian(t.AsSpan(at + 8));
                    break;
            }
        }

        Assert.Equal(Enumerable.Range(0, vcpus).Select(v => (uint)v), ids);
        Assert.Equal(AcpiTables.MailboxGpa, mailbox);
    }

    private static byte Sum(ReadOnlySpan<byte> bytes)
    {
        byte s = 0;
        foreach (byte b in bytes)
        {
            s += b;
        }

        return s;
    }
}
