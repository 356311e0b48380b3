using System.Buffers;
using System.Text;
using System.Text.Json;
using TdxSim.Abi;
using TdxSim.Abi.Messages;
using TdxSim.Machine.Logging;

namespace TdxSim.Machine.Tests.Logging;

/// <summary>
/// The JSON Lines sink assembles records byte by byte; the log's format was defined by the
/// <see cref="Utf8JsonWriter"/> implementation it replaced. These tests format random records both ways and
/// require identical bytes, including strings that need escaping, null senders, absent vCPUs, every register
/// mask and extreme numbers.
/// </summary>
public sealed class JsonLinesFormatEquivalenceTests
{
    /// <summary>Characters that exercise every escaping rule of the default encoder, and plain text.</summary>
    private static readonly string[] Pieces =
    [
        "a", "Z", "0", "-", ".", "/", " ", "TDG.VP.VMCALL", "Instruction.IO", "no-reply",
        "\"", "\\", "\n", "\r", "\t", "\b", "\f", "\0", "\u0001", "\u001f", "\u007f",
        "<", ">", "&", "'", "+", "`", "é", "ß", "中文", "\u2028", "\u2029", "\uFEFF", "\U0001F600", "\uFFFD",
    ];

    private static readonly string[] SharedStrings =
        [.. Enumerable.Range(0, 24).Select(i => i % 3 == 0 ? $"leaf-{i}" : $"text \"{i}\" \\ é\n{i}")];

    private static readonly ActorLabel[] Labels = CreateLabels();

    private static readonly long[] EdgeNumbers =
        [0, 1, -1, 9, 10, 99, 100, -5, int.MaxValue, int.MinValue, long.MaxValue, long.MinValue, long.MaxValue - 1, long.MinValue + 1, 1_000_000_007];

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void RandomRecords_AreFormattedExactlyAsUtf8JsonWriterDid(int seed)
    {
        var random = new Random(seed);
        var reference = new ReferenceFormatter();
        var stream = new MemoryStream();
        var sink = new JsonLinesLogSink(stream);
        for (int i = 0; i < 6000; i++)
        {
            MessageRecord record = RandomRecord(random);
            byte[] expected = reference.Format(in record);
            sink.Write(in record);
            if (random.Next(4) == 0)
            {
                // Also check records that share the buffer with earlier, unflushed ones.
                MessageRecord second = RandomRecord(random);
                expected = [.. expected, .. reference.Format(in second)];
                sink.Write(in second);
            }

            sink.Flush();
            Assert.False(sink.HasFailed, sink.Report.ToString());
            byte[] actual = stream.ToArray();
            stream.SetLength(0);
            stream.Position = 0;
            if (!actual.AsSpan().SequenceEqual(expected))
            {
                Assert.Fail($"record {i} differs:\nexpected {Encoding.UTF8.GetString(expected)}\nactual   {Encoding.UTF8.GetString(actual)}");
            }
        }

        sink.Complete();
    }

    [Fact]
    public void JsonEncodedText_EscapesAsTheWriterEscapesAString()
    {
        // The sink escapes through JsonEncodedText.Encode; Utf8JsonWriter.WriteString(string) must agree.
        var random = new Random(11);
        var buffer = new ArrayBufferWriter<byte>();
        using var writer = new Utf8JsonWriter(buffer);
        for (int i = 0; i < 2000; i++)
        {
            string text = RandomString(random, 40);
            buffer.ResetWrittenCount();
            writer.Reset();
            writer.WriteStringValue(text);
            writer.Flush();
            byte[] encoded = [(byte)'"', .. JsonEncodedText.Encode(text).EncodedUtf8Bytes, (byte)'"'];
            Assert.Equal(buffer.WrittenSpan.ToArray(), encoded);
        }
    }

    [Fact]
    public void OversizedRecord_GrowsTheBufferAndStaysIdentical()
    {
        string fault = string.Concat(Enumerable.Repeat("\"\u0001<中", 20_000)); // escapes to ~6x its length
        var message = new AnyTdxMessage { Vcpu = 3, Leaf = fault, Subfn = fault, Reason = fault, Fault = fault, Status = ulong.MaxValue, VisibleRegisters = GprMask.All };
        var record = new MessageRecord(long.MaxValue, long.MinValue, message, Labels[0], Labels[1], long.MinValue, long.MaxValue, long.MaxValue);
        var stream = new MemoryStream();
        var sink = new JsonLinesLogSink(stream);
        sink.Write(in record);
        sink.Complete();
        Assert.Equal(new ReferenceFormatter().Format(in record), stream.ToArray());
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    public void LoneSurrogate_IsTreatedAsTheWriterTreatedIt(int which)
    {
        // Chosen by index: xunit cannot tell test cases apart by strings that are not valid UTF-16.
        string fault = which switch
        {
            0 => "\ud800",
            1 => "x\udc00y",
            _ => "\ud83d",
        };
        var record = new MessageRecord(1, 2, new AnyTdxMessage { Vcpu = 0, Fault = fault }, null, Labels[0], 3, -1);
        byte[]? expected = null;
        try
        {
            expected = new ReferenceFormatter().Format(in record);
        }
        catch (ArgumentException)
        {
        }

        var stream = new MemoryStream();
        var sink = new JsonLinesLogSink(stream);
        sink.Write(in record);
        sink.Flush();
        if (expected is null)
        {
            Assert.True(sink.HasFailed);
            Assert.Equal(0, stream.Length);
        }
        else
        {
            Assert.False(sink.HasFailed);
            Assert.Equal(expected, stream.ToArray());
        }
    }

    private static MessageRecord RandomRecord(Random random)
    {
        object message = random.Next(10) switch
        {
            0 => "not a TDX message",
            1 => new List<int>(),
            2 => 42,
            3 => new StartVcpu(random.Next(-2, 300)),
            _ => RandomTdxMessage(random),
        };
        ActorLabel? from = random.Next(5) == 0 ? null : Labels[random.Next(Labels.Length)];
        ActorLabel to = Labels[random.Next(Labels.Length)];
        long sentAt = random.Next(4) switch
        {
            0 => -1,
            1 => RandomNumber(random),
            _ => random.NextInt64(0, 1_000_000),
        };
        long service = random.Next(3) == 0 ? -1 : random.Next(2) == 0 ? RandomNumber(random) : random.NextInt64(0, 100_000);
        return new MessageRecord(RandomNumber(random), RandomNumber(random), message, from, to, RandomNumber(random), sentAt, service);
    }

    private static AnyTdxMessage RandomTdxMessage(Random random)
    {
        Gprs registers = default;
        for (int i = 0; i < Gprs.Count; i++)
        {
            registers[i] = random.Next(4) switch
            {
                0 => 0,
                1 => (ulong)random.Next(256),
                2 => ulong.MaxValue >> random.Next(64),
                _ => (ulong)random.NextInt64() * 3,
            };
        }

        return new AnyTdxMessage
        {
            Vcpu = random.Next(6) switch
            {
                0 => -1,
                1 => int.MaxValue,
                2 => int.MinValue,
                _ => random.Next(64),
            },
            Leaf = OptionalString(random),
            Subfn = OptionalString(random),
            Reason = OptionalString(random),
            Fault = OptionalString(random),
            Status = random.Next(3) == 0 ? null : random.Next(2) == 0 ? (ulong)random.NextInt64() : ulong.MaxValue >> random.Next(64),
            VisibleRegisters = random.Next(5) switch
            {
                0 => 0,
                1 => GprMask.All,
                _ => (ushort)random.Next(ushort.MaxValue + 1),
            },
            Registers = registers,
        };
    }

    /// <summary>Null, one of a few shared instances (the cache's hit path), or a fresh string (its miss path).</summary>
    private static string? OptionalString(Random random) => random.Next(4) switch
    {
        0 => null,
        1 => SharedStrings[random.Next(SharedStrings.Length)],
        2 => new string(SharedStrings[random.Next(SharedStrings.Length)]), // same text, another instance
        _ => RandomString(random, random.Next(8) == 0 ? 400 : 12),
    };

    private static string RandomString(Random random, int maxPieces)
    {
        var text = new StringBuilder();
        int count = random.Next(maxPieces + 1);
        for (int i = 0; i < count; i++)
        {
            text.Append(random.Next(3) == 0 ? (char)random.Next(0x20, 0x7F) : Pieces[random.Next(Pieces.Length)]);
        }

        return text.ToString();
    }

    private static long RandomNumber(Random random) => random.Next(3) switch
    {
        0 => EdgeNumbers[random.Next(EdgeNumbers.Length)],
        1 => random.NextInt64(long.MinValue, long.MaxValue),
        _ => random.NextInt64(0, 10_000_000_000),
    };

    private static ActorLabel[] CreateLabels()
    {
        var namer = new ActorNamer();
        return
        [
            namer.LabelOf(new FakeActorRef("/user/machine/vcpu/0")),
            namer.LabelOf(new FakeActorRef("/user/machine/tdx-module")),
            namer.LabelOf(new FakeActorRef("/user/machine/vmm")),
            namer.LabelOf(new FakeActorRef("/user/probe")),
            namer.LabelOf(new FakeActorRef("/user/machine/dev+a&b'c")),
            namer.LabelOf(new FakeActorRef("/system/x")),
        ];
    }

    /// <summary>A TDX message whose log fields are whatever the test sets.</summary>
    private sealed class AnyTdxMessage : ITdxMessage
    {
        public int Vcpu { get; init; }

        public string? Leaf { get; init; }

        public string? Subfn { get; init; }

        public string? Reason { get; init; }

        public ulong? Status { get; init; }

        public string? Fault { get; init; }

        public ushort VisibleRegisters { get; init; }

        public Gprs Registers { get; init; }
    }

    /// <summary>
    /// The sink's formatting as it was before it wrote bytes itself: one <see cref="Utf8JsonWriter"/> with
    /// <see cref="JsonEncodedText"/> names and values. Registers go through the writer's own string writing,
    /// not the sink's helper, so the reference shares no formatting code with the code under test.
    /// </summary>
    private sealed class ReferenceFormatter
    {
        private readonly ArrayBufferWriter<byte> _buffer = new();
        private readonly Utf8JsonWriter _writer;

        public ReferenceFormatter() => _writer = new Utf8JsonWriter(_buffer, new JsonWriterOptions { SkipValidation = true });

        public byte[] Format(in MessageRecord record)
        {
            _buffer.ResetWrittenCount();
            Utf8JsonWriter w = _writer;
            w.Reset();
            object message = record.Message;
            var tdx = message as ITdxMessage;
            w.WriteStartObject();
            w.WriteNumber(LogFormat.SeqField, record.Seq);
            w.WriteNumber(LogFormat.TimeField, record.TimeNs);
            if (tdx is not null && tdx.Vcpu >= 0)
            {
                w.WriteNumber(LogFormat.VcpuField, tdx.Vcpu);
            }
            else
            {
                w.WriteNull(LogFormat.VcpuField);
            }

            if (record.From is null)
            {
                w.WriteNull(LogFormat.FromField);
            }
            else
            {
                w.WriteString(LogFormat.FromField, record.From.Encoded);
            }

            w.WriteString(LogFormat.ToField, record.To.Encoded);
            w.WriteString(LogFormat.TypeField, JsonEncodedText.Encode(message.GetType().Name));
            if (tdx is not null)
            {
                WriteOptional(w, LogFormat.LeafField, tdx.Leaf);
                WriteOptional(w, LogFormat.SubfnField, tdx.Subfn);
                WriteOptional(w, LogFormat.ReasonField, tdx.Reason);
            }

            w.WriteNumber(LogFormat.CorrField, record.CorrelationId);
            if (tdx is not null)
            {
                if (tdx.Status is ulong status)
                {
                    w.WriteString(LogFormat.StatusField, LogFormat.Hex(status));
                }

                ushort mask = tdx.VisibleRegisters;
                if (mask != 0)
                {
                    Gprs registers = tdx.Registers;
                    w.WriteStartObject(LogFormat.RegsField);
                    for (int i = 0; i < Gprs.Count; i++)
                    {
                        if ((mask & (1 << i)) != 0)
                        {
                            w.WriteString(Gprs.Names[i], LogFormat.Hex(registers[i]));
                        }
                    }

                    w.WriteEndObject();
                }

                WriteOptional(w, LogFormat.FaultField, tdx.Fault);
            }

            if (record.ServiceNs >= 0)
            {
                if (record.SentAtNs >= 0)
                {
                    w.WriteNumber(LogFormat.WaitField, Math.Max(0, record.TimeNs - record.SentAtNs));
                }

                w.WriteNumber(LogFormat.ServiceField, record.ServiceNs);
            }

            w.WriteEndObject();
            w.Flush();
            _buffer.Write("\n"u8);
            return _buffer.WrittenSpan.ToArray();
        }

        private static void WriteOptional(Utf8JsonWriter w, string name, string? value)
        {
            if (value is not null)
            {
                w.WriteString(name, JsonEncodedText.Encode(value));
            }
        }
    }
}
