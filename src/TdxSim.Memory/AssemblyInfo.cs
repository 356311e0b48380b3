using System.Runtime.CompilerServices;

// The interpreter reads the page-state and code-generation arrays directly on its hot path.
[assembly: InternalsVisibleTo("TdxSim.Cpu")]
[assembly: InternalsVisibleTo("TdxSim.Cpu.Tests")]
