namespace TdxSim.TdxModule.Virtualization;

/// <summary>The four CPUID output registers.</summary>
public readonly record struct CpuidResult(uint Eax, uint Ebx, uint Ecx, uint Edx);
