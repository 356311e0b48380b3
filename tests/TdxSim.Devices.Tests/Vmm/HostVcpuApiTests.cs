using TdxSim.Abi;
using TdxSim.Abi.HostApi;
using TdxSim.Vmm.HostApi;

namespace TdxSim.Devices.Tests.Vmm;

/// <summary>
/// The host API over vCPUs (seed 004): every call against every VM type. The expected table is written out here
/// from the seed and reference 6.2, independently of the implementation's policy.
/// </summary>
public sealed class HostVcpuApiTests
{
    // Columns: legacy, sev-es, tdx. 'y' = allowed, 'n' = refused with -EINVAL.
    private static readonly (HostCall Call, string Allowed)[] Table =
    [
        (HostCall.GetRegs, "ynn"),
        (HostCall.SetRegs, "ynn"),
        (HostCall.GetSregs, "ynn"),
        (HostCall.SetSregs, "ynn"),
        (HostCall.GetFpu, "ynn"),
        (HostCall.SetFpu, "ynn"),
        (HostCall.GetXsave, "ynn"),
        (HostCall.SetXsave, "ynn"),
        (HostCall.GetXcrs, "ynn"),
        (HostCall.SetXcrs, "ynn"),
        (HostCall.GetDebugRegs, "ynn"),
        (HostCall.SetDebugRegs, "ynn"),
        (HostCall.GetMpState, "yyn"),
        (HostCall.SetMpState, "yyn"),
        (HostCall.Interrupt, "yyn"),
        (HostCall.LevelInterrupt, "yyn"),
        (HostCall.PostedInterrupt, "yyy"),
        (HostCall.Nmi, "yyy"),
        (HostCall.Smi, "ynn"),
        (HostCall.SetupMce, "yyn"),
        (HostCall.SetMce, "yyn"),
        (HostCall.SetGuestDebug, "ynn"),
        (HostCall.GetTscKhz, "yyy"),
        (HostCall.SetTscKhz, "yyn"),
        (HostCall.SetTscOffset, "yyn"),
        (HostCall.ReadOnlyMemory, "ynn"),
        (HostCall.PrivateMemoryAttribute, "nny"),
    ];

    public static TheoryData<HostCall, VmType, bool> Matrix()
    {
        var data = new TheoryData<HostCall, VmType, bool>();
        foreach ((HostCall call, string allowed) in Table)
        {
            for (int t = 0; t < 3; t++)
            {
                data.Add(call, (VmType)t, allowed[t] == 'y');
            }
        }

        return data;
    }

    [Fact]
    public void TheTableCoversEveryCall() => Assert.Equal(Enum.GetValues<HostCall>().Order(), Table.Select(t => t.Call).Order());

    [Theory]
    [MemberData(nameof(Matrix))]
    public void EveryCallOnEveryVmType_IsAllowedOrRefusedAsKvmDoes(HostCall call, VmType type, bool allowed)
    {
        var api = new HostVcpuApi(type, 2);
        api.SetupMceIfAllowed();
        HostCallResult r = Invoke(api, call, vcpu: 1);

        if (allowed)
        {
            Assert.True(r.Succeeded, $"{call} on {type}: {r}");
            return;
        }

        Assert.False(r.Succeeded);
        Assert.Equal(HostCallResult.Einval, r.Errno);
        Assert.StartsWith(HostVcpuApi.Name(call), r.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Legacy_RegistersSetAreRegistersGot()
    {
        var api = new HostVcpuApi(VmType.Legacy, 1);
        Gprs regs = default;
        regs[Gpr.Rax] = 0x1234;
        Assert.True(api.SetRegs(0, regs, 0x10_0000, 0x202).Succeeded);
        Assert.True(api.GetRegs(0, out Gprs back, out ulong rip, out ulong rflags).Succeeded);
        Assert.Equal(0x1234UL, back[Gpr.Rax]);
        Assert.Equal(0x10_0000UL, rip);
        Assert.Equal(0x202UL, rflags);
    }

    [Fact]
    public void Tdx_RegistersStayUnseen_TheRefusalLeavesTheOutputZero()
    {
        var api = new HostVcpuApi(VmType.Tdx, 1);
        api.State(0).Regs[Gpr.Rax] = 0xDEAD;
        HostCallResult r = api.GetRegs(0, out Gprs regs, out ulong rip, out _);
        Assert.False(r.Succeeded);
        Assert.Contains("protected", r.Reason, StringComparison.Ordinal);
        Assert.Equal(default, regs);
        Assert.Equal(0UL, rip);
    }

    [Fact]
    public void Tdx_NmisCollapseIntoOnePendingFlag_LegacyCountsThem()
    {
        var tdx = new HostVcpuApi(VmType.Tdx, 1);
        var legacy = new HostVcpuApi(VmType.Legacy, 1);
        for (int i = 0; i < 3; i++)
        {
            Assert.True(tdx.Nmi(0).Succeeded);
            Assert.True(legacy.Nmi(0).Succeeded);
        }

        Assert.Equal(1, tdx.State(0).PendingNmis);
        Assert.Equal(3, legacy.State(0).PendingNmis);
    }

    [Fact]
    public void Tdx_InterruptsArrivePostedOnly_EdgeTriggered()
    {
        var api = new HostVcpuApi(VmType.Tdx, 1);
        Assert.True(api.PostInterrupt(0, 0x30).Succeeded);
        Assert.Equal(1UL << (0x30 - 0), api.State(0).PostedInterruptRequests[0]);
        Assert.True(api.PostInterrupt(0, 0xEC).Succeeded);
        Assert.Equal(1UL << (0xEC & 63), api.State(0).PostedInterruptRequests[3]);
        Assert.Contains("posted interrupts", api.Interrupt(0, 0x30).Reason, StringComparison.Ordinal);
        Assert.Contains("level-triggered", api.LevelInterrupt(0, 0x30).Reason, StringComparison.Ordinal);
        Assert.Empty(api.State(0).InjectedInterrupts);
        Assert.False(api.PostInterrupt(0, 14).Succeeded); // an exception vector
    }

    [Fact]
    public void Tdx_NoReadOnlyMemory_ButPrivateAttributes()
    {
        var api = new HostVcpuApi(VmType.Tdx, 1);
        Assert.Contains("Secure EPT", api.ReadOnlyMemory(0x10_0000, 0x1000).Reason, StringComparison.Ordinal);
        Assert.True(api.SetPrivateAttribute(0x10_0000, 0x1000).Succeeded);
        Assert.False(api.SetPrivateAttribute(0x10_0001, 0x1000).Succeeded);
    }

    [Fact]
    public void TheVmmsHostApi_IsATdx()
    {
        Assert.Equal(VmType.Tdx, new VmmBed().Vmm.HostApi.Type);
    }

    /// <summary>Calls the API method that models <paramref name="call"/> with valid arguments.</summary>
    private static HostCallResult Invoke(HostVcpuApi api, HostCall call, int vcpu)
    {
        Span<byte> buffer = stackalloc byte[512];
        Span<ulong> dr = stackalloc ulong[6];
        return call switch
        {
            HostCall.GetRegs => api.GetRegs(vcpu, out _, out _, out _),
            HostCall.SetRegs => api.SetRegs(vcpu, default, 0x1000, 0x2),
            HostCall.GetSregs => api.GetSregs(vcpu, out _),
            HostCall.SetSregs => api.SetSregs(vcpu, (0x8000_0031, 0, 0x20, 0xD01)),
            HostCall.GetFpu => api.GetFpu(vcpu, buffer),
            HostCall.SetFpu => api.SetFpu(vcpu, buffer),
            HostCall.GetXsave => api.GetXsave(vcpu, buffer),
            HostCall.SetXsave => api.SetXsave(vcpu, buffer),
            HostCall.GetXcrs => api.GetXcrs(vcpu, out _),
            HostCall.SetXcrs => api.SetXcrs(vcpu, 0x7),
            HostCall.GetDebugRegs => api.GetDebugRegs(vcpu, dr),
            HostCall.SetDebugRegs => api.SetDebugRegs(vcpu, dr),
            HostCall.GetMpState => api.GetMpState(vcpu, out _),
            HostCall.SetMpState => api.SetMpState(vcpu, MpState.Runnable),
            HostCall.Interrupt => api.Interrupt(vcpu, 0x30),
            HostCall.LevelInterrupt => api.LevelInterrupt(vcpu, 0x31),
            HostCall.PostedInterrupt => api.PostInterrupt(vcpu, 0x32),
            HostCall.Nmi => api.Nmi(vcpu),
            HostCall.Smi => api.Smi(vcpu),
            HostCall.SetupMce => api.SetupMce(vcpu, 10),
            HostCall.SetMce => api.SetMce(vcpu),
            HostCall.SetGuestDebug => api.SetGuestDebug(vcpu, 1),
            HostCall.GetTscKhz => api.GetTscKhz(vcpu, out _),
            HostCall.SetTscKhz => api.SetTscKhz(vcpu, 2_500_000),
            HostCall.SetTscOffset => api.SetTscOffset(vcpu, -1000),
            HostCall.ReadOnlyMemory => api.ReadOnlyMemory(0x20_0000, 0x1000),
            HostCall.PrivateMemoryAttribute => api.SetPrivateAttribute(0x20_0000, 0x1000),
            _ => throw new ArgumentOutOfRangeException(nameof(call)),
        };
    }
}

internal static class HostVcpuApiTestExtensions
{
    /// <summary>Sets up machine-check banks on every vCPU where the VM type allows it, so KVM_X86_SET_MCE can succeed.</summary>
    public static void SetupMceIfAllowed(this HostVcpuApi api)
    {
        for (int v = 0; v < 2; v++)
        {
            _ = api.SetupMce(v, 10);
        }
    }
}
