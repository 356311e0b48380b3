using System.Text;
using Akka.Actor;
using Akka.Serialization;

namespace TdxSim.Sweep;

/// <summary>
/// The serializer of the sweep protocol (<see cref="ISweepMessage"/>): a small, explicit binary format (a manifest
/// per message type, fields in order through <see cref="BinaryWriter"/>), so remote messages neither go through Akka's
/// default JSON serializer nor depend on reflection over the records. Field order is the format: a change to a record
/// changes <see cref="BuildVersion"/>, and nodes of different builds never talk (the version handshake).
/// </summary>
public sealed class SweepSerializer : SerializerWithStringManifest
{
    /// <summary>The serializer's identifier in Akka's registry (1-100 are Akka's own).</summary>
    public const int Id = 4120;

    /// <summary>Created by Akka from <c>akka.actor.serializers</c>.</summary>
    public SweepSerializer(ExtendedActorSystem system)
        : base(system)
    {
    }

    /// <inheritdoc/>
    public override int Identifier => Id;

    /// <inheritdoc/>
    public override string Manifest(object o) => o switch
    {
        WorkerHello => "H",
        WorkerWelcome => "W",
        WorkerRefused => "X",
        WorkRequest => "Q",
        RunAssignment => "A",
        RunCompleted => "C",
        SweepFinished => "F",
        _ => throw new ArgumentException($"{o?.GetType().Name ?? "null"} is not a sweep message", nameof(o)),
    };

    /// <inheritdoc/>
    public override byte[] ToBinary(object obj)
    {
        using var buffer = new MemoryStream();
        using (var w = new BinaryWriter(buffer, Encoding.UTF8, leaveOpen: true))
        {
            switch (obj)
            {
                case WorkerHello h:
                    w.Write(h.Version);
                    w.Write(h.Name);
                    w.Write(h.Slots);
                    break;
                case WorkerWelcome welcome:
                    WriteScenario(w, welcome.Scenario);
                    break;
                case WorkerRefused r:
                    w.Write(r.Reason);
                    break;
                case WorkRequest:
                    break;
                case RunAssignment a:
                    w.Write(a.Seed);
                    w.Write(a.Vcpus);
                    w.Write(a.Attempt);
                    break;
                case RunCompleted c:
                    WriteResult(w, c.Result);
                    break;
                case SweepFinished f:
                    w.Write(f.Runs);
                    break;
                default:
                    throw new ArgumentException($"{obj?.GetType().Name ?? "null"} is not a sweep message", nameof(obj));
            }
        }

        return buffer.ToArray();
    }

    /// <inheritdoc/>
    public override object FromBinary(byte[] bytes, string manifest)
    {
        using var r = new BinaryReader(new MemoryStream(bytes), Encoding.UTF8);
        return manifest switch
        {
            "H" => new WorkerHello(r.ReadString(), r.ReadString(), r.ReadInt32()),
            "W" => new WorkerWelcome(ReadScenario(r)),
            "X" => new WorkerRefused(r.ReadString()),
            "Q" => WorkRequest.Instance,
            "A" => new RunAssignment(r.ReadUInt64(), r.ReadInt32(), r.ReadInt32()),
            "C" => new RunCompleted(ReadResult(r)),
            "F" => new SweepFinished(r.ReadInt64()),
            _ => throw new System.Runtime.Serialization.SerializationException($"unknown sweep message manifest '{manifest}'"),
        };
    }

    private static void WriteScenario(BinaryWriter w, ScenarioSpec s)
    {
        w.Write(s.Argument);
        WriteOptional(w, s.BuiltIn);
        WriteOptional(w, s.Text);
        WriteOptional(w, s.BaseFolder);
    }

    private static ScenarioSpec ReadScenario(BinaryReader r) => new(r.ReadString(), ReadOptional(r), ReadOptional(r), ReadOptional(r));

    private static void WriteResult(BinaryWriter w, RunResult x)
    {
        w.Write(x.Seed);
        w.Write(x.Vcpus);
        w.Write(x.Status);
        w.Write(x.Reason);
        w.Write(x.Detail);
        w.Write(x.Instructions);
        w.Write(x.VirtualNs);
        w.Write(x.LogSha256);
        w.Write(x.StateSha256);
        w.Write(x.WallMs);
        w.Write(x.Worker);
    }

    private static RunResult ReadResult(BinaryReader r) => new(
        r.ReadUInt64(), r.ReadInt32(), r.ReadInt32(), r.ReadString(), r.ReadString(), r.ReadUInt64(), r.ReadInt64(),
        r.ReadString(), r.ReadString(), r.ReadDouble(), r.ReadString());

    private static void WriteOptional(BinaryWriter w, string? s)
    {
        w.Write(s is not null);
        if (s is not null)
        {
            w.Write(s);
        }
    }

    private static string? ReadOptional(BinaryReader r) => r.ReadBoolean() ? r.ReadString() : null;
}
