namespace TdxSim.Memory;

/// <summary>
/// The page-state byte as stored (low 6 bits; bit 7 is <see cref="GuestPhysicalMemory.CodeFlag"/>, bit 6 <see cref="GuestPhysicalMemory.WatchFlag"/>). Accepted is 0 so
/// that untouched, all-accepted memory needs no initialisation and the interpreter's fast path tests for zero.
/// </summary>
internal static class PageCode
{
    public const byte Accepted = 0;
    public const byte Pending = 1;
    public const byte Shared = 2;

    public static PageState ToState(byte stateByte) => (stateByte & GuestPhysicalMemory.StateMask) switch
    {
        Accepted => PageState.Accepted,
        Pending => PageState.Pending,
        _ => PageState.ConvertedToShared,
    };

    public static byte From(PageState state) => state switch
    {
        PageState.Accepted => Accepted,
        PageState.Pending => Pending,
        PageState.ConvertedToShared => Shared,
        _ => throw new ArgumentOutOfRangeException(nameof(state), state, "no page-state code for this state"),
    };
}
