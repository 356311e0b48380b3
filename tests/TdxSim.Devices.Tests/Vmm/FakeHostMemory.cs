using TdxSim.Abi;
using TdxSim.Memory;
using TdxSim.Vmm.Memory;

namespace TdxSim.Devices.Tests.Vmm;

/// <summary>
/// A host-memory fake: a dictionary of shared pages over a private range, recording every conversion call. A test may
/// make the conversion of one chunk fail.
/// </summary>
internal sealed class FakeHostMemory(ulong privateSize) : IHostMemory
{
    private readonly Lock _lock = new();
    private readonly Dictionary<ulong, byte[]> _shared = [];

    public ulong PrivateSize { get; } = privateSize;

    public List<(bool ToShared, ulong Gpa, ulong Size)> Conversions { get; } = [];

    /// <summary>When set, a conversion starting at this GPA returns <see cref="FailWith"/>.</summary>
    public ulong? FailAtGpa { get; set; }

    public ConversionResult FailWith { get; set; } = ConversionResult.InvalidOperand;

    public ConversionResult ConvertToShared(ulong gpa, ulong size) => Convert(gpa, size, toShared: true);

    public ConversionResult ConvertToPrivate(ulong gpa, ulong size) => Convert(gpa, size, toShared: false);

    public bool IsSharedBacked(ulong gpa)
    {
        lock (_lock)
        {
            return _shared.ContainsKey(PageOf(gpa));
        }
    }

    public bool TryReadShared(ulong gpa, Span<byte> destination)
    {
        lock (_lock)
        {
            for (int i = 0; i < destination.Length; i++)
            {
                ulong a = GuestPhysical.StripShared(gpa) + (ulong)i;
                if (!_shared.TryGetValue(PageOf(a), out byte[]? page))
                {
                    return false;
                }

                destination[i] = page[a & 0xFFF];
            }

            return true;
        }
    }

    public bool TryWriteShared(ulong gpa, ReadOnlySpan<byte> source)
    {
        lock (_lock)
        {
            ulong start = GuestPhysical.StripShared(gpa);
            for (ulong a = start; a < start + (ulong)source.Length; a++)
            {
                if (!_shared.ContainsKey(PageOf(a)))
                {
                    return false;
                }
            }

            for (int i = 0; i < source.Length; i++)
            {
                ulong a = start + (ulong)i;
                _shared[PageOf(a)][a & 0xFFF] = source[i];
            }

            return true;
        }
    }

    private ConversionResult Convert(ulong gpa, ulong size, bool toShared)
    {
        lock (_lock)
        {
            Conversions.Add((toShared, gpa, size));
            if (gpa == FailAtGpa)
            {
                return FailWith;
            }

            if (((gpa | size) & 0xFFF) != 0)
            {
                return ConversionResult.AlignError;
            }

            if (size == 0 || gpa + size > PrivateSize || GuestPhysical.IsShared(gpa))
            {
                return ConversionResult.InvalidOperand;
            }

            for (ulong page = gpa; page < gpa + size; page += 0x1000)
            {
                if (toShared)
                {
                    _shared.TryAdd(page, new byte[0x1000]);
                }
                else
                {
                    _shared.Remove(page);
                }
            }

            return ConversionResult.Success;
        }
    }

    private static ulong PageOf(ulong gpa) => GuestPhysical.StripShared(gpa) & ~0xFFFUL;
}
