using System.Collections.Immutable;

namespace TdxSim.Devices.Serial;

/// <summary>
/// Everything a <see cref="Uart16550"/> holds, for snapshot and restore (vm-superio's <c>SerialState</c>).
/// LSR.DR, THRE and TEMT and the IIR are not stored: they follow from the rest.
/// </summary>
/// <param name="InterruptEnable">IER (bits 3:0).</param>
/// <param name="LineControl">LCR.</param>
/// <param name="ModemControl">MCR (bits 4:0).</param>
/// <param name="ModemStatus">MSR, line and delta bits.</param>
/// <param name="FifoControl">The stored FCR bits: enable, DMA mode, trigger level.</param>
/// <param name="Scratch">SCR.</param>
/// <param name="DivisorLow">DLL.</param>
/// <param name="DivisorHigh">DLM.</param>
/// <param name="LineStatusErrors">LSR error bits (OE, PE, FE, BI) not yet read.</param>
/// <param name="LastReceived">The byte an empty RBR reads (the last one received).</param>
/// <param name="ThrInterruptPending">The THR-empty interrupt is pending: set when the holding register empties (after every
/// THR write, transmission being instant) or when ETBEI is enabled; cleared by an IIR read that reports it.</param>
/// <param name="ReceiveFifo">Bytes in the receive FIFO (or RBR), oldest first.</param>
/// <param name="HostInput">Bytes the host queued that have not yet entered the FIFO.</param>
public sealed record Uart16550State(
    byte InterruptEnable,
    byte LineControl,
    byte ModemControl,
    byte ModemStatus,
    byte FifoControl,
    byte Scratch,
    byte DivisorLow,
    byte DivisorHigh,
    byte LineStatusErrors,
    byte LastReceived,
    bool ThrInterruptPending,
    ImmutableArray<byte> ReceiveFifo,
    ImmutableArray<byte> HostInput)
{
    /// <summary>Compares every field, the byte queues by content.</summary>
    public bool Equals(Uart16550State? other) =>
        other is not null
        && InterruptEnable == other.InterruptEnable
        && LineControl == other.LineControl
        && ModemControl == other.ModemControl
        && ModemStatus == other.ModemStatus
        && FifoControl == other.FifoControl
        && Scratch == other.Scratch
        && DivisorLow == other.DivisorLow
        && DivisorHigh == other.DivisorHigh
        && LineStatusErrors == other.LineStatusErrors
        && LastReceived == other.LastReceived
        && ThrInterruptPending == other.ThrInterruptPending
        && ReceiveFifo.AsSpan().SequenceEqual(other.ReceiveFifo.AsSpan())
        && HostInput.AsSpan().SequenceEqual(other.HostInput.AsSpan());

    /// <inheritdoc/>
    public override int GetHashCode() =>
        HashCode.Combine(InterruptEnable, LineControl, ModemControl, ModemStatus, FifoControl, DivisorLow, ReceiveFifo.Length, HostInput.Length);
}
