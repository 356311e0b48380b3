using System.Collections.Immutable;
using TdxSim.Devices.Bus;
using static TdxSim.Devices.Serial.Uart16550Registers;

namespace TdxSim.Devices.Serial;

/// <summary>
/// A 16550A UART (the PC COM port): the full register file, with the 16-byte receive FIFO, the divisor latch,
/// loopback, and interrupt identification recomputed from the whole state after every access (as QEMU's
/// <c>serial_update_irq</c> does). Transmission is instant: every THR byte goes straight to the
/// <see cref="IByteSink"/>, so LSR always reports THRE and TEMT and a polling driver never waits. Received bytes
/// come from <see cref="EnqueueInput"/>; bytes beyond the FIFO's room wait in a host-side queue, as a host with flow
/// control would hold them, so input is never lost (only loopback can overrun).
/// </summary>
/// <remarks>
/// The device decodes byte registers: a wider access is split into byte accesses at consecutive offsets, lowest
/// first (QEMU's access splitting for a 1-byte region), and bytes past the eighth register read all ones.
/// Thread safety: every entry point takes <see cref="Gate"/>. Host calls (<see cref="EnqueueInput"/>,
/// <see cref="Snapshot"/>, <see cref="Restore"/>) may come from any thread; the bus takes the same lock for guest
/// accesses (<see cref="IGuardedIoDevice"/>), and an access that finds it already held skips re-entering it.
/// </remarks>
public sealed partial class Uart16550 : IGuardedIoDevice
{
    /// <summary>Reset divisor: 12, i.e. 9600 baud from the 1.8432 MHz PC clock.</summary>
    private const ushort ResetDivisor = 12;

    /// <summary>Reset MSR: a host connected and ready (DCD, DSR and CTS asserted), QEMU's reset value.</summary>
    private const byte ResetModemStatus = MsrDcd | MsrDsr | MsrCts;

    /// <summary>Reset MCR: OUT2 set, because most UARTs need it to enable interrupts (vm-superio's default).</summary>
    private const byte ResetModemControl = McrOut2;

    private readonly IByteSink _output;
    private readonly IInterruptLine? _interrupt;
    private readonly Lock _gate = new();
    private readonly byte[] _fifo = new byte[FifoDepth];
    private readonly Queue<byte> _hostInput = new();
    private int _fifoHead;
    private int _fifoCount;
    private byte _ier;
    private byte _lcr;
    private byte _mcr = ResetModemControl;
    private byte _msr = ResetModemStatus;
    private byte _fcr;
    private byte _scr;
    private byte _dll = (byte)ResetDivisor;
    private byte _dlm = ResetDivisor >> 8;
    private byte _lsrErrors;
    private byte _lastReceived;
    private bool _thrInterruptPending;
    private bool _interruptAsserted;

    /// <summary>Creates a UART in its reset state.</summary>
    /// <param name="name">Device name for counters, e.g. <c>com1</c>.</param>
    /// <param name="output">Receives every transmitted byte.</param>
    /// <param name="interrupt">The IRQ output, or null while interrupts are not delivered.</param>
    public Uart16550(string name, IByteSink output, IInterruptLine? interrupt = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(output);
        Name = name;
        _output = output;
        _interrupt = interrupt;
    }

    /// <inheritdoc/>
    public string Name { get; }

    /// <inheritdoc/>
    public Lock Gate => _gate;

    /// <summary>The IRQ line level: an interrupt is pending and MCR.OUT2 is set (the PC/AT gate).</summary>
    public bool InterruptAsserted
    {
        get
        {
            lock (_gate)
            {
                return _interruptAsserted;
            }
        }
    }

    /// <summary>The divisor latch (DLM:DLL); the baud rate is 115200 / divisor.</summary>
    public ushort Divisor
    {
        get
        {
            lock (_gate)
            {
                return (ushort)(_dll | (_dlm << 8));
            }
        }
    }

    /// <summary>Received bytes not yet read by the guest (FIFO plus host queue).</summary>
    public int PendingInput
    {
        get
        {
            lock (_gate)
            {
                return _fifoCount + _hostInput.Count;
            }
        }
    }

    /// <inheritdoc/>
    public ulong Read(ulong offset, int size)
    {
        if (_gate.IsHeldByCurrentThread)
        {
            return ReadLocked(offset, size);
        }

        lock (_gate)
        {
            return ReadLocked(offset, size);
        }
    }

    /// <inheritdoc/>
    public void Write(ulong offset, int size, ulong value)
    {
        if (_gate.IsHeldByCurrentThread)
        {
            WriteLocked(offset, size, value);
            return;
        }

        lock (_gate)
        {
            WriteLocked(offset, size, value);
        }
    }

    /// <summary>The host sends bytes to the guest (e.g. stdin). They enter the receive FIFO as it has room.</summary>
    public void EnqueueInput(ReadOnlySpan<byte> bytes)
    {
        lock (_gate)
        {
            foreach (byte b in bytes)
            {
                _hostInput.Enqueue(b);
            }

            RefillFromHost();
            UpdateInterrupt();
        }
    }

    /// <summary>A copy of the whole state.</summary>
    public Uart16550State Snapshot()
    {
        lock (_gate)
        {
            var fifo = new byte[_fifoCount];
            for (int i = 0; i < _fifoCount; i++)
            {
                fifo[i] = _fifo[(_fifoHead + i) % FifoDepth];
            }

            return new Uart16550State(
                _ier, _lcr, _mcr, _msr, _fcr, _scr, _dll, _dlm, _lsrErrors, _lastReceived, _thrInterruptPending,
                ImmutableArray.Create(fifo), [.. _hostInput]);
        }
    }

    /// <summary>Replaces the whole state and re-evaluates the IRQ line (a pending interrupt is raised again).</summary>
    /// <exception cref="ArgumentException">A field holds bits the register cannot hold, or the FIFO holds more than it can.</exception>
    public void Restore(Uart16550State state)
    {
        ArgumentNullException.ThrowIfNull(state);
        Require((state.InterruptEnable & ~IerMask) == 0, $"IER 0x{state.InterruptEnable:X2} has bits above 3");
        Require((state.ModemControl & ~McrMask) == 0, $"MCR 0x{state.ModemControl:X2} has bits above 4");
        Require((state.FifoControl & ~FcrStoredMask) == 0, $"FCR 0x{state.FifoControl:X2} has self-clearing or reserved bits");
        Require((state.FifoControl & FcrEnable) != 0 || state.FifoControl == 0, $"FCR 0x{state.FifoControl:X2} has bits without the FIFO enable bit");
        Require((state.LineStatusErrors & ~LsrErrorMask) == 0, $"LSR errors 0x{state.LineStatusErrors:X2} has non-error bits");
        int capacity = (state.FifoControl & FcrEnable) != 0 ? FifoDepth : 1;
        Require(state.ReceiveFifo.Length <= capacity, $"receive FIFO holds {state.ReceiveFifo.Length} bytes, capacity {capacity}");

        lock (_gate)
        {
            _ier = state.InterruptEnable;
            _lcr = state.LineControl;
            _mcr = state.ModemControl;
            _msr = state.ModemStatus;
            _fcr = state.FifoControl;
            _scr = state.Scratch;
            _dll = state.DivisorLow;
            _dlm = state.DivisorHigh;
            _lsrErrors = state.LineStatusErrors;
            _lastReceived = state.LastReceived;
            _thrInterruptPending = state.ThrInterruptPending;
            _fifoHead = 0;
            _fifoCount = state.ReceiveFifo.Length;
            state.ReceiveFifo.CopyTo(_fifo);
            _hostInput.Clear();
            foreach (byte b in state.HostInput)
            {
                _hostInput.Enqueue(b);
            }

            _interruptAsserted = false;
            _interrupt?.SetLevel(false);
            UpdateInterrupt();
        }
    }

    private ulong ReadLocked(ulong offset, int size)
    {
        ulong value = 0;
        for (int i = 0; i < size; i++)
        {
            ulong register = offset + (ulong)i;
            ulong b = register < RegisterCount ? ReadRegister((int)register) : 0xFFUL;
            value |= b << (8 * i);
        }

        UpdateInterrupt();
        return value;
    }

    private void WriteLocked(ulong offset, int size, ulong value)
    {
        for (int i = 0; i < size; i++)
        {
            ulong register = offset + (ulong)i;
            if (register < RegisterCount)
            {
                WriteRegister((int)register, (byte)(value >> (8 * i)));
            }
        }

        UpdateInterrupt();
    }

    private static void Require(bool condition, string message)
    {
        if (!condition)
        {
            throw new ArgumentException($"invalid UART state: {message}", "state");
        }
    }
}
