using System.Reflection;
using System.Security.Cryptography;
using System.Text;

namespace TdxSim.Sweep;

/// <summary>
/// The build a node runs: TdxSim's version and a digest of every TdxSim assembly's module id (with deterministic
/// builds, the same sources and compiler give the same ids). A sweep's hashes are only comparable between nodes of one
/// build, so the coordinator refuses workers of another one.
/// </summary>
public static class BuildVersion
{
    /// <summary>Set to stand for another build (the tests of the version check use it).</summary>
    public const string OverrideVariable = "TDXSIM_SWEEP_VERSION";

    private static readonly Lazy<string> Computed = new(Compute);

    /// <summary>This node's build, e.g. <c>1.0.0+3f9a0c12e4b7</c>.</summary>
    public static string Current => Environment.GetEnvironmentVariable(OverrideVariable) is { Length: > 0 } v ? v : Computed.Value;

    private static string Compute()
    {
        Type[] anchors =
        [
            typeof(BuildVersion), typeof(Machine.TdMachine), typeof(Cpu.Cpu), typeof(Guest.VcpuActor), typeof(Vmm.VmmCore),
            typeof(TdxModule.TdxModuleCore), typeof(Devices.MachineDevices), typeof(Images.GuestImage),
            typeof(Memory.GuestPhysicalMemory), typeof(Runtime.TdxRuntime), typeof(Abi.Gprs),
        ];
        var text = new StringBuilder();
        foreach (Assembly assembly in anchors.Select(t => t.Assembly).Distinct().OrderBy(a => a.GetName().Name, StringComparer.Ordinal))
        {
            text.Append(assembly.GetName().Name).Append(':').Append(assembly.ManifestModule.ModuleVersionId).Append(';');
        }

        string digest = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text.ToString())))[..12];
        string version = typeof(BuildVersion).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
            ?? typeof(BuildVersion).Assembly.GetName().Version?.ToString() ?? "0";
        return $"{version.Split('+')[0]}+{digest}";
    }
}
