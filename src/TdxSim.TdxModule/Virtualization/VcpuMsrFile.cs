namespace TdxSim.TdxModule.Virtualization;

/// <summary>
/// The MSR values the module keeps for one vCPU (guest MSR state in TDVPS). Initial values are the
/// architectural reset values, except EFER, which is the long-mode value TDX fixes (reference 6.2).
/// </summary>
public sealed class VcpuMsrFile
{
    /// <summary>EFER of a TD vCPU: SCE | LME | LMA | NXE.</summary>
    public const ulong InitialEfer = 0xD01;

    /// <summary>IA32_PAT power-on value (SDM Vol. 3A 13.12.4).</summary>
    public const ulong InitialPat = 0x0007_0406_0007_0406;

    public ulong SpecCtrl { get; set; }

    public ulong SysenterCs { get; set; }

    public ulong SysenterEsp { get; set; }

    public ulong SysenterEip { get; set; }

    public ulong Pat { get; set; } = InitialPat;

    public ulong MiscEnable { get; set; }

    public ulong DebugCtl { get; set; }

    public ulong Xss { get; set; }

    public ulong Efer { get; set; } = InitialEfer;

    public ulong Star { get; set; }

    public ulong Lstar { get; set; }

    public ulong Fmask { get; set; }

    public ulong FsBase { get; set; }

    public ulong GsBase { get; set; }

    public ulong KernelGsBase { get; set; }

    public ulong TscAux { get; set; }
}
