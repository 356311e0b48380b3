namespace TdxSim.Machine.Tests.Inspect;

/// <summary>
/// A message log written by hand, with round times so every expected figure can be checked with pencil and paper.
/// <list type="bullet">
/// <item>corr 10, vCPU 0: #VE IO_INSTRUCTION, OUT 0x3f8. Exit 1000→2100 (1100 ns); TDCALL VEINFO.GET 1200→1300 (100);
/// TDCALL VMCALL 1400→2100 (700); TDVMCALL Instruction.IO 1500→2000 (500).</item>
/// <item>corr 11, vCPU 1: paravirt VMCALL, OUT 0x80. TDCALL 2200→2700 (500); TDVMCALL 2300→2600 (300).</item>
/// <item>corr 12, vCPU 0: #VE EPT_VIOLATION, MMIO read of 0x8000feb00000. Exit 3000→4100 (1100); VEINFO.GET 3100→3150 (50);
/// VMCALL 3200→4100 (900); TDVMCALL #VE.RequestMMIO 3300→4000 (700).</item>
/// <item>corr 13, vCPU 0: paravirt VMCALL, OUT 0x3f8. TDCALL 5000→5450 (450); TDVMCALL 5100→5400 (300). Then a GuestStopRequested.</item>
/// <item>A StartVcpu without a sender; a TdcallCompleted for vCPU 1 that answers nothing (unmatched).</item>
/// <item>corr 15, vCPU 1: #VE HLT whose VEINFO.GET never completes: an incomplete exit and an incomplete TDCALL.</item>
/// </list>
/// </summary>
internal static class HandMadeLog
{
    public const string Text = """
        {"seq":1,"t_ns":1000,"vcpu":0,"from":"vcpu/0","to":"tdx-module","type":"TdExited","reason":"IO_INSTRUCTION","corr":10,"regs":{"rax":"0x0","rcx":"0x0","rdx":"0x0"}}
        {"seq":2,"t_ns":1100,"vcpu":0,"from":"tdx-module","to":"vcpu/0","type":"TdEntered","reason":"IO_INSTRUCTION","corr":10}
        {"seq":3,"t_ns":1200,"vcpu":0,"from":"vcpu/0","to":"tdx-module","type":"TdcallRequested","leaf":"TDG.VP.VEINFO.GET","corr":10,"regs":{"rax":"0x3"}}
        {"seq":4,"t_ns":1300,"vcpu":0,"from":"tdx-module","to":"vcpu/0","type":"TdcallCompleted","leaf":"TDG.VP.VEINFO.GET","corr":10,"status":"0x0","regs":{"rax":"0x0","rcx":"0x1e","rdx":"0x3f80000","r9":"0x0"}}
        {"seq":5,"t_ns":1400,"vcpu":0,"from":"vcpu/0","to":"tdx-module","type":"TdcallRequested","leaf":"TDG.VP.VMCALL","subfn":"Instruction.IO","corr":10,"regs":{"rax":"0x0","rcx":"0xfc00","r10":"0x0","r11":"0x1e","r12":"0x1","r13":"0x1","r14":"0x3f8","r15":"0x41"}}
        {"seq":6,"t_ns":1500,"vcpu":0,"from":"tdx-module","to":"vmm","type":"TdVmcallRequested","leaf":"TDG.VP.VMCALL","subfn":"Instruction.IO","corr":10,"regs":{"r10":"0x0","r11":"0x1e","r12":"0x1","r13":"0x1","r14":"0x3f8","r15":"0x41"}}
        {"seq":7,"t_ns":2000,"vcpu":0,"from":"vmm","to":"tdx-module","type":"TdVmcallCompleted","leaf":"TDG.VP.VMCALL","subfn":"Instruction.IO","corr":10,"status":"0x0","regs":{"r10":"0x0","r11":"0x0"}}
        {"seq":8,"t_ns":2100,"vcpu":0,"from":"tdx-module","to":"vcpu/0","type":"TdcallCompleted","leaf":"TDG.VP.VMCALL","corr":10,"status":"0x0","regs":{"rax":"0x0","r10":"0x0","r11":"0x0"}}
        {"seq":9,"t_ns":2200,"vcpu":1,"from":"vcpu/1","to":"tdx-module","type":"TdcallRequested","leaf":"TDG.VP.VMCALL","subfn":"Instruction.IO","corr":11,"regs":{"rax":"0x0","rcx":"0xfc00","r10":"0x0","r11":"0x1e","r12":"0x1","r13":"0x1","r14":"0x80","r15":"0x5"}}
        {"seq":10,"t_ns":2300,"vcpu":1,"from":"tdx-module","to":"vmm","type":"TdVmcallRequested","leaf":"TDG.VP.VMCALL","subfn":"Instruction.IO","corr":11,"regs":{"r10":"0x0","r11":"0x1e","r12":"0x1","r13":"0x1","r14":"0x80","r15":"0x5"}}
        {"seq":11,"t_ns":2600,"vcpu":1,"from":"vmm","to":"tdx-module","type":"TdVmcallCompleted","leaf":"TDG.VP.VMCALL","subfn":"Instruction.IO","corr":11,"status":"0x0","regs":{"r10":"0x0","r11":"0x0"}}
        {"seq":12,"t_ns":2700,"vcpu":1,"from":"tdx-module","to":"vcpu/1","type":"TdcallCompleted","leaf":"TDG.VP.VMCALL","corr":11,"status":"0x0","regs":{"rax":"0x0"}}
        {"seq":13,"t_ns":3000,"vcpu":0,"from":"vcpu/0","to":"tdx-module","type":"TdExited","reason":"EPT_VIOLATION","corr":12,"regs":{"rax":"0x0","rcx":"0x0","rdx":"0x0"}}
        {"seq":14,"t_ns":3050,"vcpu":0,"from":"tdx-module","to":"vcpu/0","type":"TdEntered","reason":"EPT_VIOLATION","corr":12}
        {"seq":15,"t_ns":3100,"vcpu":0,"from":"vcpu/0","to":"tdx-module","type":"TdcallRequested","leaf":"TDG.VP.VEINFO.GET","corr":12,"regs":{"rax":"0x3"}}
        {"seq":16,"t_ns":3150,"vcpu":0,"from":"tdx-module","to":"vcpu/0","type":"TdcallCompleted","leaf":"TDG.VP.VEINFO.GET","corr":12,"status":"0x0","regs":{"rax":"0x0","rcx":"0x30","r9":"0x8000feb00000"}}
        {"seq":17,"t_ns":3200,"vcpu":0,"from":"vcpu/0","to":"tdx-module","type":"TdcallRequested","leaf":"TDG.VP.VMCALL","subfn":"#VE.RequestMMIO","corr":12,"regs":{"rax":"0x0","rcx":"0xfc00","r10":"0x0","r11":"0x30","r12":"0x4","r13":"0x0","r14":"0x8000feb00000","r15":"0x0"}}
        {"seq":18,"t_ns":3300,"vcpu":0,"from":"tdx-module","to":"vmm","type":"TdVmcallRequested","leaf":"TDG.VP.VMCALL","subfn":"#VE.RequestMMIO","corr":12,"regs":{"r10":"0x0","r11":"0x30","r12":"0x4","r13":"0x0","r14":"0x8000feb00000","r15":"0x0"}}
        {"seq":19,"t_ns":4000,"vcpu":0,"from":"vmm","to":"tdx-module","type":"TdVmcallCompleted","leaf":"TDG.VP.VMCALL","subfn":"#VE.RequestMMIO","corr":12,"status":"0x0","regs":{"r10":"0x0","r11":"0x170020"}}
        {"seq":20,"t_ns":4100,"vcpu":0,"from":"tdx-module","to":"vcpu/0","type":"TdcallCompleted","leaf":"TDG.VP.VMCALL","corr":12,"status":"0x0","regs":{"rax":"0x0","r10":"0x0","r11":"0x170020"}}
        {"seq":21,"t_ns":5000,"vcpu":0,"from":"vcpu/0","to":"tdx-module","type":"TdcallRequested","leaf":"TDG.VP.VMCALL","subfn":"Instruction.IO","corr":13,"regs":{"rax":"0x0","rcx":"0xfc00","r10":"0x0","r11":"0x1e","r12":"0x1","r13":"0x1","r14":"0x3f8","r15":"0x42"}}
        {"seq":22,"t_ns":5100,"vcpu":0,"from":"tdx-module","to":"vmm","type":"TdVmcallRequested","leaf":"TDG.VP.VMCALL","subfn":"Instruction.IO","corr":13,"regs":{"r10":"0x0","r11":"0x1e","r12":"0x1","r13":"0x1","r14":"0x3f8","r15":"0x42"}}
        {"seq":23,"t_ns":5400,"vcpu":0,"from":"vmm","to":"tdx-module","type":"TdVmcallCompleted","leaf":"TDG.VP.VMCALL","subfn":"Instruction.IO","corr":13,"status":"0x0","regs":{"r10":"0x0","r11":"0x0"}}
        {"seq":24,"t_ns":5450,"vcpu":0,"from":"tdx-module","to":"vcpu/0","type":"TdcallCompleted","leaf":"TDG.VP.VMCALL","corr":13,"status":"0x0","regs":{"rax":"0x0"}}
        {"seq":25,"t_ns":5500,"vcpu":0,"from":"vmm","to":"machine","type":"GuestStopRequested","reason":"DebugExit","corr":13}
        {"seq":26,"t_ns":5600,"vcpu":1,"from":null,"to":"vcpu/1","type":"StartVcpu","corr":14}
        {"seq":27,"t_ns":5700,"vcpu":1,"from":"tdx-module","to":"vcpu/1","type":"TdcallCompleted","leaf":"TDG.VP.INFO","corr":99,"status":"0x0","regs":{"rax":"0x0"}}
        {"seq":28,"t_ns":6000,"vcpu":1,"from":"vcpu/1","to":"tdx-module","type":"TdExited","reason":"HLT","corr":15,"regs":{"rax":"0x0","rcx":"0x0","rdx":"0x0"}}
        {"seq":29,"t_ns":6100,"vcpu":1,"from":"tdx-module","to":"vcpu/1","type":"TdEntered","reason":"HLT","corr":15}
        {"seq":30,"t_ns":6200,"vcpu":1,"from":"vcpu/1","to":"tdx-module","type":"TdcallRequested","leaf":"TDG.VP.VEINFO.GET","corr":15,"regs":{"rax":"0x3"}}
        """;

    /// <summary>Writes the log to a new temporary file.</summary>
    public static string WriteTemp(string text = Text)
    {
        string path = Path.Combine(Path.GetTempPath(), $"tdxsim-inspect-{Guid.NewGuid():N}.jsonl");
        File.WriteAllText(path, text + "\n");
        return path;
    }
}
