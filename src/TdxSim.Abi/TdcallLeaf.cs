namespace TdxSim.Abi;

/// <summary>
/// TDCALL leaf numbers: RAX bits 15:0 (TDX module ABI; reference 1.2). Bits 23:16 of RAX carry
/// the leaf version and bits 63:24 must be zero.
/// </summary>
public enum TdcallLeaf : ushort
{
    VpVmcall = 0,
    VpInfo = 1,
    MrRtmrExtend = 2,
    VpVeinfoGet = 3,
    MrReport = 4,
    VpCpuidveSet = 5,
    MemPageAccept = 6,
    VmRd = 7,
    VmWr = 8,
    VpRd = 9,
    VpWr = 10,
    SysRd = 11,
    SysRdAll = 12,
    ServtdRd = 18,
    ServtdWr = 20,
    MrVerifyReport = 22,
    MemPageAttrRd = 23,
    MemPageAttrWr = 24,
    VpEnter = 25,
    VpInvept = 26,
    VpInvvpid = 27,
}

/// <summary>Spec names and RAX field layout of TDCALL leaves.</summary>
public static class TdcallLeafInfo
{
    /// <summary>The TDCALL instruction bytes <c>66 0F 01 CC</c>.</summary>
    public static ReadOnlySpan<byte> TdcallBytes => [0x66, 0x0F, 0x01, 0xCC];

    /// <summary>Length of the TDCALL instruction.</summary>
    public const int TdcallLength = 4;

    /// <summary>Leaf number from RAX (bits 15:0).</summary>
    public static ushort LeafOf(ulong rax) => (ushort)rax;

    /// <summary>Leaf version from RAX (bits 23:16).</summary>
    public static byte VersionOf(ulong rax) => (byte)(rax >> 16);

    /// <summary>True when RAX bits 63:24 are all zero.</summary>
    public static bool ReservedBitsClear(ulong rax) => (rax >> 24) == 0;

    /// <summary>The spec name, e.g. <c>TDG.VP.VMCALL</c>, or <c>TDCALL(n)</c> for an unknown leaf.</summary>
    public static string SpecName(ushort leaf) => leaf switch
    {
        0 => "TDG.VP.VMCALL",
        1 => "TDG.VP.INFO",
        2 => "TDG.MR.RTMR.EXTEND",
        3 => "TDG.VP.VEINFO.GET",
        4 => "TDG.MR.REPORT",
        5 => "TDG.VP.CPUIDVE.SET",
        6 => "TDG.MEM.PAGE.ACCEPT",
        7 => "TDG.VM.RD",
        8 => "TDG.VM.WR",
        9 => "TDG.VP.RD",
        10 => "TDG.VP.WR",
        11 => "TDG.SYS.RD",
        12 => "TDG.SYS.RDALL",
        18 => "TDG.SERVTD.RD",
        20 => "TDG.SERVTD.WR",
        22 => "TDG.MR.VERIFYREPORT",
        23 => "TDG.MEM.PAGE.ATTR.RD",
        24 => "TDG.MEM.PAGE.ATTR.WR",
        25 => "TDG.VP.ENTER",
        26 => "TDG.VP.INVEPT",
        27 => "TDG.VP.INVVPID",
        _ => $"TDCALL({leaf})",
    };

    /// <summary>Registers a leaf reads as input, for logs (RAX always included).</summary>
    public static ushort InputMask(ushort leaf, ulong rcx) => leaf switch
    {
        0 => (ushort)(GprMask.Rax | GprMask.Rcx | (ushort)rcx),
        1 or 3 => GprMask.Rax,
        2 => GprMask.Rax | GprMask.Rcx | GprMask.Rdx,
        4 => GprMask.Rax | GprMask.Rcx | GprMask.Rdx | GprMask.R8,
        5 or 6 => GprMask.Rax | GprMask.Rcx,
        7 => GprMask.Rax | GprMask.Rcx | GprMask.Rdx,
        8 => GprMask.Rax | GprMask.Rcx | GprMask.Rdx | GprMask.R8 | GprMask.R9,
        _ => GprMask.Rax | GprMask.Rcx | GprMask.Rdx | GprMask.R8 | GprMask.R9,
    };
}
