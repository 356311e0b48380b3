using System.Collections.Immutable;
using TdxSim.Devices.Serial;

namespace TdxSim.Devices.Tests.Serial;

public class Uart16550Tests
{
    // Register offsets and values, spelled out here so the tests do not share the device's constants.
    private const ulong Rbr = 0, Thr = 0, Dll = 0, Ier = 1, Dlm = 1, Iir = 2, Fcr = 2, Lcr = 3, Mcr = 4, Lsr = 5, Msr = 6, Scr = 7;

    private readonly MemoryByteSink _out = new();
    private readonly RecordingInterruptLine _irq = new();
    private readonly Uart16550 _uart;

    public Uart16550Tests()
    {
        _uart = new Uart16550("com1", _out, _irq);
    }

    private byte In(ulong offset) => (byte)_uart.Read(offset, 1);

    private void Out(ulong offset, byte value) => _uart.Write(offset, 1, value);

    [Fact]
    public void Reset_RegistersHaveDocumentedValues()
    {
        Assert.Equal(0x00, In(Ier));
        Assert.Equal(0x01, In(Iir));
        Assert.Equal(0x00, In(Lcr));
        Assert.Equal(0x08, In(Mcr));
        Assert.Equal(0x60, In(Lsr));
        Assert.Equal(0xB0, In(Msr));
        Assert.Equal(0x00, In(Scr));
        Assert.Equal(12, _uart.Divisor);
        Assert.False(_uart.InterruptAsserted);
    }

    [Fact]
    public void WriteThr_SendsBytesToSink_InOrder()
    {
        foreach (byte b in "hi\n"u8)
        {
            Out(Thr, b);
        }

        Assert.Equal("hi\n", _out.Text);
        Assert.Equal(0x60, In(Lsr)); // still THRE | TEMT: a polling driver never waits
    }

    [Fact]
    public void Dlab_RedirectsOffsetsZeroAndOneToDivisorLatch()
    {
        Out(Lcr, 0x83); // DLAB, 8 data bits
        Out(Dll, 0x01);
        Out(Dlm, 0x02);

        Assert.Equal(0x0201, _uart.Divisor);
        Assert.Equal(0x01, In(Dll));
        Assert.Equal(0x02, In(Dlm));
        Assert.Empty(_out.ToArray()); // the DLL write did not transmit
        Out(Lcr, 0x03);
        Assert.Equal(0x00, In(Ier)); // IER untouched by the DLM write
        Assert.Equal(0x03, In(Lcr));
    }

    [Fact]
    public void WordWrite_WithDlab_SetsBothDivisorBytes()
    {
        Out(Lcr, 0x80);
        _uart.Write(Dll, 2, 0x0C01);

        Assert.Equal(0x0C01, _uart.Divisor);
    }

    [Fact]
    public void WideRead_PastLastRegister_ReadsOnes()
    {
        Out(Scr, 0x5A);

        Assert.Equal(0xFF5AUL, _uart.Read(Scr, 2));
        Assert.Equal(0xFFFF_FF5AUL, _uart.Read(Scr, 4));
    }

    [Fact]
    public void Scratch_ReadsBackWhatWasWritten()
    {
        Out(Scr, 0xA5);

        Assert.Equal(0xA5, In(Scr));
    }

    [Fact]
    public void HostInput_SetsDataReady_AndReadsInOrder()
    {
        _uart.EnqueueInput("ab"u8);

        Assert.Equal(0x61, In(Lsr));
        Assert.Equal((byte)'a', In(Rbr));
        Assert.Equal((byte)'b', In(Rbr));
        Assert.Equal(0x60, In(Lsr));
        Assert.Equal((byte)'b', In(Rbr)); // an empty RBR keeps the last byte
        Assert.Equal(0, _uart.PendingInput);
    }

    [Fact]
    public void HostInput_BeyondFifo_WaitsAndIsNeverLost()
    {
        byte[] input = [.. Enumerable.Range(0, 40).Select(i => (byte)i)];
        _uart.EnqueueInput(input); // FIFOs disabled: only RBR holds a byte, the rest waits

        var read = new List<byte>();
        while ((In(Lsr) & 0x01) != 0)
        {
            read.Add(In(Rbr));
        }

        Assert.Equal(input, read);
        Assert.Equal(0, In(Lsr) & 0x02); // no overrun from host input
    }

    [Fact]
    public void Loopback_ThrGoesToRbr_NotToSink()
    {
        Out(Mcr, 0x10);
        Out(Thr, 0x42);

        Assert.Empty(_out.ToArray());
        Assert.Equal(0x61, In(Lsr));
        Assert.Equal(0x42, In(Rbr));
    }

    [Fact]
    public void Loopback_HostInputWaitsUntilLoopbackEnds()
    {
        Out(Mcr, 0x10);
        _uart.EnqueueInput("x"u8);

        Assert.Equal(0x60, In(Lsr));
        Out(Mcr, 0x08);
        Assert.Equal(0x61, In(Lsr));
        Assert.Equal((byte)'x', In(Rbr));
    }

    [Fact]
    public void Loopback_ModemOutputsDriveModemStatus_WithDeltas()
    {
        Out(Mcr, 0x10); // loopback, all outputs off: CTS, DSR, DCD drop
        Assert.Equal(0x0B, In(Msr)); // DCTS, DDSR, DDCD; lines all 0
        Assert.Equal(0x00, In(Msr)); // deltas cleared by the read

        Out(Mcr, 0x10 | 0x0F); // DTR, RTS, OUT1, OUT2
        Assert.Equal(0xFB, In(Msr)); // CTS DSR RI DCD + DCTS DDSR DDCD (RI rising: no TERI)

        Out(Mcr, 0x10 | 0x0B); // OUT1 off: RI falls
        Assert.Equal(0xB4, In(Msr)); // TERI
    }

    [Fact]
    public void Loopback_WithoutFifo_SecondByteOverruns()
    {
        Out(Mcr, 0x10);
        Out(Thr, 0x01);
        Out(Thr, 0x02);

        Assert.Equal(0x63, In(Lsr)); // DR | OE
        Assert.Equal(0x61, In(Lsr)); // OE cleared by the read
        Assert.Equal(0x02, In(Rbr)); // 16450 mode: the new byte replaced the unread one
    }

    [Fact]
    public void Loopback_WithFifo_SeventeenthByteOverrunsAndIsLost()
    {
        Out(Fcr, 0x01);
        Out(Mcr, 0x10);
        for (int i = 1; i <= 17; i++)
        {
            Out(Thr, (byte)i);
        }

        Assert.Equal(0x63, In(Lsr));
        for (int i = 1; i <= 16; i++)
        {
            Assert.Equal((byte)i, In(Rbr));
        }

        Assert.Equal(0x60, In(Lsr));
    }

    [Fact]
    public void Fcr_ClearReceive_DropsFifo_ThenRefillsFromHostQueue()
    {
        Out(Fcr, 0x01);
        _uart.EnqueueInput([.. Enumerable.Range(0, 20).Select(i => (byte)i)]);
        Assert.Equal(20, _uart.PendingInput);

        Out(Fcr, 0x03);

        Assert.Equal(4, _uart.PendingInput);
        Assert.Equal(16, In(Rbr));
    }

    [Fact]
    public void Iir_ReflectsFifoEnable()
    {
        Out(Fcr, 0xC7);
        Assert.Equal(0xC1, In(Iir));
        Out(Fcr, 0x00);
        Assert.Equal(0x01, In(Iir));
    }

    [Fact]
    public void Iir_ThrEmpty_RaisedOnEnable_AcknowledgedByIirRead_RaisedAgainByThrWrite()
    {
        Out(Ier, 0x02);
        Assert.True(_uart.InterruptAsserted);
        Assert.Equal(0x02, In(Iir));
        Assert.False(_uart.InterruptAsserted);
        Assert.Equal(0x01, In(Iir));

        Out(Thr, (byte)'z');
        Assert.True(_uart.InterruptAsserted);
        Assert.Equal(0x02, In(Iir));
        Assert.Equal([true, false, true, false], _irq.Levels);
    }

    [Fact]
    public void Iir_Priorities_LineStatusThenDataThenThr()
    {
        Out(Mcr, 0x18); // loopback + OUT2
        Out(Ier, 0x07); // data, THR empty, line status
        Assert.Equal(0x02, In(Iir)); // only THR empty so far; reading acknowledges it

        Out(Thr, 1);
        Out(Thr, 2); // overrun
        Assert.Equal(0x06, In(Iir)); // line status first
        Assert.Equal(0x63, In(Lsr)); // reading LSR clears the error
        Assert.Equal(0x04, In(Iir)); // then received data
        In(Rbr);
        Assert.Equal(0x02, In(Iir)); // then THR empty (re-armed by the THR writes)
        Assert.Equal(0x01, In(Iir));
    }

    [Fact]
    public void Iir_FifoBelowTriggerLevel_ReportsCharacterTimeout()
    {
        Out(Ier, 0x01);
        Out(Fcr, 0xC1); // trigger level 14
        _uart.EnqueueInput("abc"u8);
        Assert.Equal(0xCC, In(Iir));

        Out(Fcr, 0x01); // trigger level 1 (FIFO kept: enable bit unchanged)
        Assert.Equal(0xC4, In(Iir));
    }

    [Fact]
    public void Iir_ModemStatusDelta_WhenEnabled()
    {
        Out(Ier, 0x08);
        Out(Mcr, 0x18); // loopback: CTS and DSR drop, DCD stays (OUT2)
        Assert.Equal(0x00, In(Iir));
        In(Msr);
        Assert.Equal(0x01, In(Iir));
    }

    [Fact]
    public void InterruptLine_GatedByOut2()
    {
        Out(Ier, 0x02);
        Assert.True(_irq.Level);

        Out(Mcr, 0x00);
        Assert.False(_irq.Level);
        Assert.Equal(0x02, In(Iir) & 0x0F); // still pending inside the UART

        Out(Thr, 0);
        Out(Mcr, 0x08);
        Assert.True(_irq.Level);
    }

    [Fact]
    public void LsrAndMsrWrites_AreIgnored()
    {
        Out(Lsr, 0x00);
        Out(Msr, 0x00);

        Assert.Equal(0x60, In(Lsr));
        Assert.Equal(0xB0, In(Msr));
    }

    [Fact]
    public void SnapshotRestore_RoundTripsEveryRegister()
    {
        Out(Lcr, 0x80);
        Out(Dll, 0x03);
        Out(Lcr, 0x1B);
        Out(Fcr, 0x81);
        Out(Ier, 0x05);
        Out(Scr, 0x77);
        Out(Mcr, 0x1B);
        Out(Thr, 0x99); // loopback into the FIFO
        _uart.EnqueueInput("host"u8);
        Uart16550State state = _uart.Snapshot();

        var irq = new RecordingInterruptLine();
        var copy = new Uart16550("copy", new MemoryByteSink(), irq);
        copy.Restore(state);

        Assert.Equal(state, copy.Snapshot());
        Assert.Equal(new byte[] { 0x99 }, state.ReceiveFifo.ToArray());
        Assert.Equal("host"u8.ToArray(), state.HostInput.ToArray());
        Assert.True(irq.Level); // received data pending with ERBFI and OUT2: the interrupt is raised again
        for (ulong r = 1; r < 8; r++)
        {
            Assert.Equal(_uart.Read(r, 1), copy.Read(r, 1));
        }

        Assert.Equal(0x99UL, copy.Read(Rbr, 1));
    }

    [Fact]
    public void Restore_InvalidState_Throws()
    {
        Uart16550State good = _uart.Snapshot();

        Assert.Throws<ArgumentException>(() => _uart.Restore(good with { InterruptEnable = 0x10 }));
        Assert.Throws<ArgumentException>(() => _uart.Restore(good with { ModemControl = 0x20 }));
        Assert.Throws<ArgumentException>(() => _uart.Restore(good with { FifoControl = 0x40 }));
        Assert.Throws<ArgumentException>(() => _uart.Restore(good with { LineStatusErrors = 0x01 }));
        Assert.Throws<ArgumentException>(() => _uart.Restore(good with { ReceiveFifo = ImmutableArray.Create<byte>(1, 2) }));
        Assert.Equal(good, _uart.Snapshot()); // nothing changed
    }

    [Fact]
    public void OnBus_Com1Ports_ReachRegisters()
    {
        var bus = Devices.Bus.DeviceBus.CreatePortBus();
        bus.Register(0x3F8, 8, _uart);

        bus.Write(0x3F8, 1, 'A');
        Assert.Equal(0x60UL, bus.Read(0x3FD, 1));
        Assert.Equal("A", _out.Text);
    }

    [Fact]
    public async Task HostInputWhileGuestPollsThroughBus_EveryByteArrivesInOrder()
    {
        var bus = Devices.Bus.DeviceBus.CreatePortBus();
        bus.Register(0x3F8, 8, _uart);
        const int count = 5_000;

        var producer = Task.Run(() =>
        {
            for (int i = 0; i < count; i++)
            {
                _uart.EnqueueInput([(byte)i]);
            }
        });
        var received = new List<byte>(count);
        while (received.Count < count)
        {
            if ((bus.Read(0x3FD, 1) & 0x01) != 0)
            {
                received.Add((byte)bus.Read(0x3F8, 1));
            }
        }

        await producer;
        Assert.Equal(Enumerable.Range(0, count).Select(i => (byte)i), received);
    }
}
