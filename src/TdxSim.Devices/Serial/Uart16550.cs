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
public sealed class Uart16550 : IGuardedIoDevice
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

    private bool DivisorLatchAccess => (_lcr & LcrDivisorLatchAccess) != 0;

    private bool Loopback => (_mcr & McrLoopback) != 0;

    private bool FifosEnabled => (_fcr & FcrEnable) != 0;

    private int FifoCapacity => FifosEnabled ? FifoDepth : 1;

    private int TriggerLevel => (_fcr >> 6) switch
    {
        0 => 1,
        1 => 4,
        2 => 8,
        _ => 14,
    };

    private byte ReadRegister(int register)
    {
        switch (register)
        {
            case Data:
                return DivisorLatchAccess ? _dll : ReadReceiveBuffer();
            case InterruptEnable:
                return DivisorLatchAccess ? _dlm : _ier;
            case InterruptId:
                byte iir = InterruptIdentification();
                if ((iir & IirIdMask) == IirThrEmpty)
                {
                    // Reading IIR while it reports THR empty acknowledges that interrupt (PC16550D, "Interrupt Control").
                    _thrInterruptPending = false;
                }

                return iir;
            case LineControl:
                return _lcr;
            case ModemControl:
                return _mcr;
            case LineStatus:
                byte lsr = (byte)(LsrThrEmpty | LsrTransmitterEmpty | _lsrErrors | (_fifoCount > 0 ? LsrDataReady : 0));
                _lsrErrors = 0; // error bits are cleared by the read that reports them
                return lsr;
            case ModemStatus:
                byte msr = _msr;
                _msr &= MsrLineMask; // delta bits are cleared by the read that reports them
                return msr;
            default:
                return _scr;
        }
    }

    private void WriteRegister(int register, byte value)
    {
        switch (register)
        {
            case Data:
                if (DivisorLatchAccess)
                {
                    _dll = value;
                }
                else
                {
                    Transmit(value);
                }

                break;
            case InterruptEnable:
                if (DivisorLatchAccess)
                {
                    _dlm = value;
                }
                else
                {
                    byte enabled = (byte)(value & IerMask);
                    if ((enabled & ~_ier & IerThrEmpty) != 0)
                    {
                        // Enabling ETBEI while THR is empty (always, here) raises the THR-empty interrupt at once.
                        _thrInterruptPending = true;
                    }

                    _ier = enabled;
                }

                break;
            case InterruptId:
                WriteFifoControl(value);
                break;
            case LineControl:
                _lcr = value;
                break;
            case ModemControl:
                WriteModemControl((byte)(value & McrMask));
                break;
            case LineStatus:
            case ModemStatus:
                break; // read-only (writes only matter in the factory test mode, not modelled)
            default:
                _scr = value;
                break;
        }
    }

    private byte ReadReceiveBuffer()
    {
        if (_fifoCount == 0)
        {
            return _lastReceived; // an empty RBR still holds the last byte received
        }

        _lastReceived = _fifo[_fifoHead];
        _fifoHead = (_fifoHead + 1) % FifoDepth;
        _fifoCount--;
        RefillFromHost();
        return _lastReceived;
    }

    private void Transmit(byte value)
    {
        if (Loopback)
        {
            // Loopback: the transmitter output is wired to the receiver input; nothing leaves the chip.
            ReceiveFromLine(value);
        }
        else
        {
            _output.Write(value);
        }

        // The byte moved through the holding and shift registers at once: THR is empty again.
        _thrInterruptPending = true;
    }

    private void ReceiveFromLine(byte value)
    {
        if (_fifoCount < FifoCapacity)
        {
            _fifo[(_fifoHead + _fifoCount) % FifoDepth] = value;
            _fifoCount++;
            return;
        }

        _lsrErrors |= LsrOverrun;
        if (!FifosEnabled)
        {
            // 16450 mode: the new byte overwrites the unread one in RBR. In FIFO mode the FIFO is kept and the new byte is lost.
            _fifo[_fifoHead] = value;
        }
    }

    private void RefillFromHost()
    {
        // In loopback the serial input pin is disconnected, so host bytes wait.
        while (!Loopback && _fifoCount < FifoCapacity && _hostInput.Count > 0)
        {
            _fifo[(_fifoHead + _fifoCount) % FifoDepth] = _hostInput.Dequeue();
            _fifoCount++;
        }
    }

    private void WriteFifoControl(byte value)
    {
        bool enableChanged = ((value ^ _fcr) & FcrEnable) != 0;
        if (enableChanged || (value & FcrClearReceive) != 0)
        {
            // Changing the FIFO enable empties both FIFOs (PC16550D, FCR bit 0). The transmit side is always empty.
            _fifoHead = 0;
            _fifoCount = 0;
        }

        // The other bits are only programmed together with the enable bit.
        _fcr = (value & FcrEnable) != 0 ? (byte)(value & FcrStoredMask) : (byte)0;
        RefillFromHost();
    }

    private void WriteModemControl(byte value)
    {
        bool wasLoopback = Loopback;
        _mcr = value;
        byte lines = Loopback ? LoopbackModemLines(value) : ResetModemStatus;
        SetModemLines(lines);
        if (wasLoopback && !Loopback)
        {
            RefillFromHost();
        }
    }

    /// <summary>In loopback the MCR outputs drive the MSR inputs: RTS→CTS, DTR→DSR, OUT1→RI, OUT2→DCD.</summary>
    private static byte LoopbackModemLines(byte mcr) => (byte)(
        ((mcr & McrRts) != 0 ? MsrCts : 0)
        | ((mcr & McrDtr) != 0 ? MsrDsr : 0)
        | ((mcr & McrOut1) != 0 ? MsrRi : 0)
        | ((mcr & McrOut2) != 0 ? MsrDcd : 0));

    private void SetModemLines(byte lines)
    {
        byte old = _msr;
        byte changed = (byte)((old ^ lines) & MsrLineMask);
        byte delta = (byte)(old & MsrDeltaMask);
        delta |= (changed & MsrCts) != 0 ? MsrDeltaCts : (byte)0;
        delta |= (changed & MsrDsr) != 0 ? MsrDeltaDsr : (byte)0;
        delta |= (changed & MsrDcd) != 0 ? MsrDeltaDcd : (byte)0;
        delta |= (old & MsrRi) != 0 && (lines & MsrRi) == 0 ? MsrTrailingRi : (byte)0; // trailing edge only
        _msr = (byte)(lines | delta);
    }

    /// <summary>IIR from the whole state, highest priority first (PC16550D table "Interrupt Control Functions").</summary>
    private byte InterruptIdentification()
    {
        byte id;
        if ((_ier & IerLineStatus) != 0 && _lsrErrors != 0)
        {
            id = IirLineStatus;
        }
        else if ((_ier & IerReceivedData) != 0 && _fifoCount > 0)
        {
            // Below the trigger level a real 16550 raises the character timeout after four character times;
            // with no line timing here it is reported at once, which drivers treat like received data.
            id = FifosEnabled && _fifoCount < TriggerLevel ? IirCharacterTimeout : IirReceivedData;
        }
        else if ((_ier & IerThrEmpty) != 0 && _thrInterruptPending)
        {
            id = IirThrEmpty;
        }
        else if ((_ier & IerModemStatus) != 0 && (_msr & MsrDeltaMask) != 0)
        {
            id = IirModemStatus;
        }
        else
        {
            id = IirNoInterrupt;
        }

        return (byte)(id | (FifosEnabled ? IirFifosEnabled : 0));
    }

    private void UpdateInterrupt()
    {
        bool asserted = (InterruptIdentification() & IirNoInterrupt) == 0 && (_mcr & McrOut2) != 0;
        if (asserted != _interruptAsserted)
        {
            _interruptAsserted = asserted;
            _interrupt?.SetLevel(asserted);
        }
    }
}
