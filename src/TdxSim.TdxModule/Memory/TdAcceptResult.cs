namespace TdxSim.TdxModule.Memory;

/// <summary>Outcome of <see cref="ITdMemory.Accept"/> (TDG.MEM.PAGE.ACCEPT, reference 4.3).</summary>
public enum TdAcceptResult
{
    /// <summary>Pending page(s) accepted and zeroed: TDX_SUCCESS.</summary>
    Success,

    /// <summary>Already guest-accessible: the warning TDX_PAGE_ALREADY_ACCEPTED.</summary>
    AlreadyAccepted,

    /// <summary>2 MiB requested but the range is mapped as 4 KiB pages in mixed states: TDX_PAGE_SIZE_MISMATCH.</summary>
    SizeMismatch,

    /// <summary>
    /// No acceptable private mapping (outside private memory, or converted to shared). The real module does a TD
    /// exit (EPT violation with the ACCEPT extended qualification) for the VMM to add the page.
    /// </summary>
    NotMapped,
}
