namespace TdxSim.Images.Guests;

/// <summary>What a built-in guest may adapt to.</summary>
/// <param name="Vcpus">Number of vCPUs of the TD.</param>
/// <param name="MemorySize">Private memory size in bytes.</param>
public sealed record GuestBuildContext(int Vcpus, ulong MemorySize);

/// <summary>A built-in guest: a name, one line of description, and how to build its image.</summary>
public sealed record BuiltInGuest(string Name, string Description, Func<GuestBuildContext, GuestImage> Build);

/// <summary>The guests TdxSim carries, by name (scenario key <c>guest: builtin:NAME</c>).</summary>
public static class BuiltInGuests
{
    private static readonly BuiltInGuest[] Guests =
    [
        new("smp-hello", "every vCPU says hello; vCPU 0 walks the #VE and paravirt paths and compares them; all halt (exit 0)",
            _ => TourGuest.Build(exitThroughDebugPort: false).ToImage()),
        new("demo", "the #VE and paravirt walks of smp-hello, then exit through the debug port 0xF4 (exit 1)",
            _ => TourGuest.Build(exitThroughDebugPort: true).ToImage()),
        new("accept-storm", "with accept: lazy, every vCPU touches the same 64 pending pages in lock step, so their accepts collide in the TDX module; all halt (exit 0)",
            c => AcceptStormGuest.Build(c.MemorySize).ToImage()),
    ];

    /// <summary>Every built-in guest.</summary>
    public static IReadOnlyList<BuiltInGuest> All => Guests;

    /// <summary>Finds a guest by name.</summary>
    public static bool TryGet(string name, out BuiltInGuest guest)
    {
        foreach (BuiltInGuest g in Guests)
        {
            if (string.Equals(g.Name, name, StringComparison.Ordinal))
            {
                guest = g;
                return true;
            }
        }

        guest = null!;
        return false;
    }

    /// <summary>Names of every built-in guest, for error messages.</summary>
    public static string Names => string.Join(", ", Array.ConvertAll(Guests, g => g.Name));
}
