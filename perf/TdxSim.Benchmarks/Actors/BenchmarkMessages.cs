namespace TdxSim.Benchmarks.Actors;

/// <summary>Messages of the actor benchmarks. Cached instances are reused so Tell allocates nothing.</summary>
public sealed record BenchRequest(int Value);

public sealed record BenchReply(int Value);

/// <summary>Starts a run of <paramref name="Count"/> operations; <paramref name="Done"/> completes at the end.</summary>
public sealed record BenchStart(int Count, TaskCompletionSource Done);

public sealed class BenchTick
{
    public static readonly BenchTick Instance = new();
}
