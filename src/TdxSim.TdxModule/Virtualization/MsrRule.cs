namespace TdxSim.TdxModule.Virtualization;

/// <summary>One row of the MSR policy: an inclusive MSR range, its name, and the read and write actions.</summary>
public readonly record struct MsrRule(uint First, uint Last, string Name, MsrAction Read, MsrAction Write);
