namespace TdxSim.Memory;

/// <summary>
/// State of one 4 KiB private page, as the Secure EPT would record it (reference 4.2 to 4.4).
/// </summary>
public enum PageState : byte
{
    /// <summary>The GPA is outside private memory (or has the shared bit set).</summary>
    None = 0,

    /// <summary>Mapped but not yet accepted with TDG.MEM.PAGE.ACCEPT; a guest access raises #VE.</summary>
    Pending = 1,

    /// <summary>Accepted private memory: the guest may use it.</summary>
    Accepted = 2,

    /// <summary>Converted to shared with MapGPA: the private mapping is gone, the shared alias has a page.</summary>
    ConvertedToShared = 3,
}

/// <summary>Result of <see cref="GuestPhysicalMemory.Accept"/>, mirroring TDG.MEM.PAGE.ACCEPT (reference 4.3).</summary>
public enum AcceptResult
{
    /// <summary>The page(s) were pending and are now accepted and zeroed (TDX_SUCCESS).</summary>
    Success,

    /// <summary>The page(s) were already accepted (warning TDX_PAGE_ALREADY_ACCEPTED); nothing changed.</summary>
    AlreadyAccepted,

    /// <summary>A 2 MiB accept over a range whose 4 KiB pages are in different states (TDX_PAGE_SIZE_MISMATCH).</summary>
    SizeMismatch,

    /// <summary>Bad level, misaligned or shared GPA, outside private memory, or a page not mapped private (TDX_OPERAND_INVALID).</summary>
    InvalidOperand,
}

/// <summary>Result of a private/shared conversion (the memory side of TDG.VP.VMCALL&lt;MapGPA&gt;).</summary>
public enum ConversionResult
{
    /// <summary>Every page of the range was converted.</summary>
    Success,

    /// <summary>The range has the shared bit set, is empty, overflows, or leaves private memory.</summary>
    InvalidOperand,

    /// <summary>The start or the size is not a multiple of 4 KiB.</summary>
    AlignError,
}
