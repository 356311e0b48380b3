using TdxSim.Devices.Bus;

namespace TdxSim.Devices.Platform;

/// <summary>
/// The PC's MC146818 CMOS real-time clock at ports 0x70 (index; bit 7 is the NMI mask) and 0x71 (data), as QEMU's
/// TDX machines have it. Linux reads the wall-clock time from it once at boot (<c>mach_get_cmos_time</c>); without
/// one, its update-in-progress poll spins for a second of guest time and gives up ("Unable to read current time from
/// RTC"). The clock is fixed at <see cref="StartTime"/> and does not tick (runs stay reproducible): status A reports
/// no update in progress, status B 24-hour BCD, status D valid time. The other 114 bytes are CMOS RAM, zero at reset.
/// No periodic, alarm or update interrupts.
/// </summary>
public sealed class CmosRtc : IIoDevice
{
    /// <summary>The date and time the clock shows.</summary>
    public static readonly DateTime StartTime = new(2026, 1, 1, 0, 0, 0, DateTimeKind.Utc);

    private readonly object _lock = new();
    private readonly byte[] _ram = new byte[128];
    private byte _index;

    /// <summary>Creates the clock at <see cref="StartTime"/>.</summary>
    public CmosRtc()
    {
        DateTime t = StartTime;
        _ram[0x00] = Bcd(t.Second);
        _ram[0x02] = Bcd(t.Minute);
        _ram[0x04] = Bcd(t.Hour);
        _ram[0x06] = (byte)((int)t.DayOfWeek + 1);
        _ram[0x07] = Bcd(t.Day);
        _ram[0x08] = Bcd(t.Month);
        _ram[0x09] = Bcd(t.Year % 100);
        _ram[0x0A] = 0x26; // 32.768 kHz time base, 1024 Hz rate, UIP clear
        _ram[0x0B] = 0x02; // 24-hour, BCD, no interrupts
        _ram[0x0C] = 0x00;
        _ram[0x0D] = 0x80; // valid RAM and time
        _ram[0x32] = Bcd(t.Year / 100);
    }

    /// <inheritdoc/>
    public string Name => "rtc";

    /// <inheritdoc/>
    public ulong Read(ulong offset, int size)
    {
        lock (_lock)
        {
            return offset switch
            {
                0 => _index,
                1 => ReadRegister(),
                _ => AccessSize.Mask(size),
            };
        }
    }

    /// <inheritdoc/>
    public void Write(ulong offset, int size, ulong value)
    {
        lock (_lock)
        {
            if (offset == 0)
            {
                _index = (byte)value;
            }
            else if (offset == 1)
            {
                int r = _index & 0x7F;
                if (r is 0x0A)
                {
                    _ram[r] = (byte)(value & 0x7F); // UIP is read-only
                }
                else if (r is not (0x0C or 0x0D))
                {
                    _ram[r] = (byte)value; // C and D are read-only
                }
            }
        }
    }

    private byte ReadRegister()
    {
        int r = _index & 0x7F;
        byte v = _ram[r];
        if (r == 0x0C)
        {
            _ram[r] = 0; // reading status C clears its flags
        }

        return v;
    }

    private static byte Bcd(int v) => (byte)(((v / 10) << 4) | (v % 10));
}
