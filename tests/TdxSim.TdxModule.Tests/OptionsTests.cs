using TdxSim.Abi;
using TdxSim.TdxModule.Tests.Support;

namespace TdxSim.TdxModule.Tests;

/// <summary><see cref="TdxModuleOptions.Validate"/> names the bad value.</summary>
public sealed class OptionsTests
{
    public static TheoryData<TdxModuleOptions, string> BadOptions => new()
    {
        { new TdxModuleOptions { NumVcpus = 0 }, "NumVcpus" },
        { new TdxModuleOptions { NumVcpus = 4, MaxVcpus = 3 }, "MaxVcpus" },
        { new TdxModuleOptions { NumVcpus = 1, MaxVcpus = 70_000 }, "MaxVcpus" },
        { new TdxModuleOptions { NumVcpus = 1, ConfigFlags = TdConfigFlags.MaxGpaw }, "MAX_GPAW" },
        { new TdxModuleOptions { NumVcpus = 1, ConfigFlags = 1UL << 9 }, "CONFIG_FLAGS" },
        { new TdxModuleOptions { NumVcpus = 1, Xfam = 0x1 }, "XFAM" },
        { new TdxModuleOptions { NumVcpus = 1, TscFrequencyHz = 2_010_000_000 }, "TSC frequency" },
        { new TdxModuleOptions { NumVcpus = 1, TscFrequencyHz = 75_000_000 }, "TSC frequency" },
        { new TdxModuleOptions { NumVcpus = 1, TscFrequencyHz = 10_025_000_000 }, "TSC frequency" },
        { new TdxModuleOptions { NumVcpus = 1, TopologyEnumConfigured = false }, "EnumTopologyAtStart" },
        { new TdxModuleOptions { NumVcpus = 1, Mrtd = new byte[32] }, "Mrtd" },
        { new TdxModuleOptions { NumVcpus = 1, MrOwner = new byte[49] }, "MrOwner" },
        { new TdxModuleOptions { NumVcpus = 1, ReportMacKey = new byte[16] }, "ReportMacKey" },
    };

    [Theory]
    [MemberData(nameof(BadOptions))]
    public void BadOption_IsRejectedWithItsName(TdxModuleOptions options, string name)
    {
        var ex = Assert.Throws<ArgumentException>(() => new TdxModuleCore(options, new FakeTdMemory(1 << 20)));
        Assert.Contains(name, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Defaults_AreValid_AndMatchAKvmTd()
    {
        var options = new TdxModuleOptions { NumVcpus = 1 };
        options.Validate();
        Assert.Equal(TdAttributes.SeptVeDisable, options.Attributes);
        Assert.Equal(TdConfigFlags.NoRbpMod, options.ConfigFlags);
        Assert.Equal(1, options.ResolvedMaxVcpus);
        var core = new TdxModuleCore(options, new FakeTdMemory(1 << 20));
        Assert.True(core.PendingVeDisabled);
        Assert.Equal(TdCtls.PendingVeDisable | TdCtls.EnumTopology, core.TdCtlsValue);
    }

    [Fact]
    public void NullArguments_Throw()
    {
        Assert.Throws<ArgumentNullException>(() => new TdxModuleCore(null!, new FakeTdMemory(1 << 20)));
        Assert.Throws<ArgumentNullException>(() => new TdxModuleCore(new TdxModuleOptions { NumVcpus = 1 }, null!));
    }
}
