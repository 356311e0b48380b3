namespace TdxSim.Devices.Serial;

/// <summary>
/// Register offsets and bits of the 16550A UART (National Semiconductor PC16550D data sheet; the PC/AT COM port
/// layout). Offsets are from the port base; several registers share an offset and are told apart by direction
/// or by LCR.DLAB.
/// </summary>
internal static class Uart16550Registers
{
    public const int RegisterCount = 8;

    // Offsets.
    public const int Data = 0;            // RBR (read) / THR (write); DLL when LCR.DLAB = 1
    public const int InterruptEnable = 1; // IER; DLM when LCR.DLAB = 1
    public const int InterruptId = 2;     // IIR (read) / FCR (write)
    public const int LineControl = 3;     // LCR
    public const int ModemControl = 4;    // MCR
    public const int LineStatus = 5;      // LSR (read-only)
    public const int ModemStatus = 6;     // MSR (read-only)
    public const int Scratch = 7;         // SCR

    // IER: which conditions may interrupt.
    public const byte IerReceivedData = 0b0000_0001;  // ERBFI: received data available (and character timeout)
    public const byte IerThrEmpty = 0b0000_0010;      // ETBEI: transmitter holding register empty
    public const byte IerLineStatus = 0b0000_0100;    // ELSI: overrun, parity, framing error or break
    public const byte IerModemStatus = 0b0000_1000;   // EDSSI: a modem-status delta bit is set
    public const byte IerMask = 0b0000_1111;          // bits 7:4 always read 0

    // IIR: the highest-priority pending interrupt (bit 0 = 1: none).
    public const byte IirNoInterrupt = 0b0000_0001;      // nothing pending
    public const byte IirLineStatus = 0b0000_0110;       // priority 1: receiver line status
    public const byte IirReceivedData = 0b0000_0100;     // priority 2: received data at or above the FIFO trigger level
    public const byte IirCharacterTimeout = 0b0000_1100; // priority 2: data below the trigger level left unread (FIFO mode)
    public const byte IirThrEmpty = 0b0000_0010;         // priority 3: transmitter holding register empty
    public const byte IirModemStatus = 0b0000_0000;      // priority 4: modem status change
    public const byte IirIdMask = 0b0000_1111;           // interrupt id bits
    public const byte IirFifosEnabled = 0b1100_0000;     // both bits set while FCR.FIFO enable is 1

    // FCR (write-only).
    public const byte FcrEnable = 0b0000_0001;        // enable both FIFOs; other bits are only programmed with this set
    public const byte FcrClearReceive = 0b0000_0010;  // empty the receive FIFO (self-clearing)
    public const byte FcrClearTransmit = 0b0000_0100; // empty the transmit FIFO (self-clearing)
    public const byte FcrDmaMode = 0b0000_1000;       // DMA mode select (no DMA here; kept for snapshots)
    public const byte FcrTriggerMask = 0b1100_0000;   // receive trigger level: 1, 4, 8 or 14 bytes
    public const byte FcrStoredMask = FcrEnable | FcrDmaMode | FcrTriggerMask;

    // LCR.
    public const byte LcrDivisorLatchAccess = 0b1000_0000; // DLAB: offsets 0 and 1 address the divisor latch

    // MCR.
    public const byte McrDtr = 0b0000_0001;      // data terminal ready
    public const byte McrRts = 0b0000_0010;      // request to send
    public const byte McrOut1 = 0b0000_0100;     // auxiliary output 1
    public const byte McrOut2 = 0b0000_1000;     // auxiliary output 2: gates the IRQ line on PC/AT boards
    public const byte McrLoopback = 0b0001_0000; // local loopback: THR feeds RBR, MCR outputs feed MSR inputs
    public const byte McrMask = 0b0001_1111;     // bits 7:5 always read 0

    // LSR.
    public const byte LsrDataReady = 0b0000_0001;        // DR: at least one received byte is waiting
    public const byte LsrOverrun = 0b0000_0010;          // OE: a received byte was lost (cleared by reading LSR)
    public const byte LsrParityError = 0b0000_0100;      // PE (cleared by reading LSR)
    public const byte LsrFramingError = 0b0000_1000;     // FE (cleared by reading LSR)
    public const byte LsrBreak = 0b0001_0000;            // BI: break received (cleared by reading LSR)
    public const byte LsrThrEmpty = 0b0010_0000;         // THRE: the holding register can take a byte
    public const byte LsrTransmitterEmpty = 0b0100_0000; // TEMT: holding and shift registers both empty
    public const byte LsrErrorMask = LsrOverrun | LsrParityError | LsrFramingError | LsrBreak;

    // MSR.
    public const byte MsrDeltaCts = 0b0000_0001;   // DCTS: CTS changed since MSR was last read
    public const byte MsrDeltaDsr = 0b0000_0010;   // DDSR: DSR changed
    public const byte MsrTrailingRi = 0b0000_0100; // TERI: RI went from 1 to 0
    public const byte MsrDeltaDcd = 0b0000_1000;   // DDCD: DCD changed
    public const byte MsrCts = 0b0001_0000;        // clear to send (loopback: RTS)
    public const byte MsrDsr = 0b0010_0000;        // data set ready (loopback: DTR)
    public const byte MsrRi = 0b0100_0000;         // ring indicator (loopback: OUT1)
    public const byte MsrDcd = 0b1000_0000;        // data carrier detect (loopback: OUT2)
    public const byte MsrDeltaMask = 0b0000_1111;
    public const byte MsrLineMask = 0b1111_0000;

    /// <summary>Receive FIFO depth of the 16550A; with FIFOs disabled only the one-byte RBR holds data.</summary>
    public const int FifoDepth = 16;
}
