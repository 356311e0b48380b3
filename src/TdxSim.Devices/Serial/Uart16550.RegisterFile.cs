using static TdxSim.Devices.Serial.Uart16550Registers;

namespace TdxSim.Devices.Serial;

// The register file: what each register access does. Every method here runs with Gate held.
public sealed partial class Uart16550
{
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
