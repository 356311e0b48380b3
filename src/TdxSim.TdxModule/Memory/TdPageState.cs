namespace TdxSim.TdxModule.Memory;

/// <summary>Secure-EPT state of one private 4 KiB page, as the TDX module sees it (reference 4.2 to 4.4).</summary>
public enum TdPageState
{
    /// <summary>No private page: outside private memory, or never added by the VMM.</summary>
    None,

    /// <summary>Added by the VMM but not yet accepted (SEPT PENDING).</summary>
    Pending,

    /// <summary>Accepted: mapped and usable by the guest (SEPT MAPPED).</summary>
    Accepted,

    /// <summary>Converted to shared with MapGPA: the private mapping is gone.</summary>
    ConvertedToShared,
}
