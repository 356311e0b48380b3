using TdxSim.Abi.Messages;
using TdxSim.Devices.Bus;

namespace TdxSim.Devices.Tests;

/// <summary>Records every device event.</summary>
internal sealed class RecordingEvents : IMachineEvents
{
    public List<(GuestStopKind Kind, ulong Value, string Detail)> Stops { get; } = [];

    public List<ulong> Reports { get; } = [];

    public List<byte> PostCodes { get; } = [];

    public void StopRequested(GuestStopKind kind, ulong value, string detail) => Stops.Add((kind, value, detail));

    public void Reported(ulong value) => Reports.Add(value);

    public void PostCode(byte code) => PostCodes.Add(code);
}

/// <summary>Records every level change.</summary>
internal sealed class RecordingInterruptLine : IInterruptLine
{
    public List<bool> Levels { get; } = [];

    public bool Level => Levels.Count > 0 && Levels[^1];

    public void SetLevel(bool asserted) => Levels.Add(asserted);
}

/// <summary>A device that records accesses and answers reads with a fixed function of offset and size.</summary>
internal sealed class RecordingDevice(string name) : IIoDevice
{
    public string Name { get; } = name;

    public List<(bool Write, ulong Offset, int Size, ulong Value)> Accesses { get; } = [];

    public ulong ReadValue { get; set; } = 0x1122_3344_5566_7788;

    public ulong Read(ulong offset, int size)
    {
        Accesses.Add((false, offset, size, 0));
        return ReadValue;
    }

    public void Write(ulong offset, int size, ulong value) => Accesses.Add((true, offset, size, value));
}
