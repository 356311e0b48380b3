namespace TdxSim.Cpu.Tests.Differential;

/// <summary>A fact that needs the host CPU: skipped, with the reason shown, anywhere but x86-64 Linux.</summary>
public sealed class NativeFactAttribute : FactAttribute
{
    public NativeFactAttribute()
    {
        if (!NativeSandbox.IsSupportedHost)
        {
            Skip = $"differential test needs an x86-64 Linux host to run instructions natively (this is {System.Runtime.InteropServices.RuntimeInformation.RuntimeIdentifier})";
        }
    }
}

/// <summary>A theory that needs the host CPU (see <see cref="NativeFactAttribute"/>).</summary>
public sealed class NativeTheoryAttribute : TheoryAttribute
{
    public NativeTheoryAttribute()
    {
        if (!NativeSandbox.IsSupportedHost)
        {
            Skip = $"differential test needs an x86-64 Linux host to run instructions natively (this is {System.Runtime.InteropServices.RuntimeInformation.RuntimeIdentifier})";
        }
    }
}
