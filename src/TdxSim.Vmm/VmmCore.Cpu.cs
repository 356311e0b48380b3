using TdxSim.Abi;
using TdxSim.Abi.Messages;
using TdxSim.Vmm.Cpuid;

namespace TdxSim.Vmm;

// Instruction-type sub-functions KVM answers in the kernel: CPUID, RDMSR, WRMSR, HLT.
public sealed partial class VmmCore
{
    /// <summary>GHCI TDG.VP.VMCALL&lt;Instruction.CPUID&gt; (10): R12 = EAX leaf, R13 = ECX sub-leaf; returns EAX, EBX,
    /// ECX, EDX in R12, R13, R14, R15 from the VMM's CPUID table.</summary>
    private VmcallOutcome InstructionCpuid(ref Call call)
    {
        ulong leaf = call.Regs[Gpr.R12];
        ulong subleaf = call.Regs[Gpr.R13];
        if (leaf > uint.MaxValue || subleaf > uint.MaxValue)
        {
            return Done(ref call, TdVmcall.InvalidOperand);
        }

        CpuidResult r = Cpuid.Lookup((uint)leaf, (uint)subleaf, call.Vcpu);
        call.Regs[Gpr.R12] = r.Eax;
        call.Regs[Gpr.R13] = r.Ebx;
        call.Regs[Gpr.R14] = r.Ecx;
        call.Regs[Gpr.R15] = r.Edx;
        return Done(ref call, TdVmcall.Success);
    }

    /// <summary>GHCI TDG.VP.VMCALL&lt;Instruction.RDMSR&gt; (31): R12 = MSR index; R11 = value. A denied or write-only
    /// MSR is INVALID_OPERAND (KVM: the #GP the filter produces).</summary>
    private VmcallOutcome InstructionRdmsr(ref Call call)
    {
        ulong index = call.Regs[Gpr.R12];
        ulong value = 0;
        if (index > uint.MaxValue || (!TryApicRead(call.Vcpu, (uint)index, out value) && !Msrs.TryGuestRead(call.Vcpu, (uint)index, out value)))
        {
            return Done(ref call, TdVmcall.InvalidOperand);
        }

        call.Regs[Gpr.R11] = value;
        return Done(ref call, TdVmcall.Success);
    }

    /// <summary>GHCI TDG.VP.VMCALL&lt;Instruction.WRMSR&gt; (32): R12 = MSR index, R13 = value (EDX:EAX). A denied or
    /// read-only MSR, or a reserved bit set, is INVALID_OPERAND and changes nothing.</summary>
    private VmcallOutcome InstructionWrmsr(ref Call call)
    {
        ulong index = call.Regs[Gpr.R12];
        if (index > uint.MaxValue || !Msrs.TryGuestWrite(call.Vcpu, (uint)index, call.Regs[Gpr.R13]))
        {
            return Done(ref call, TdVmcall.InvalidOperand);
        }

        // The APIC registers whose writes act: IPIs and timer programming go out as messages to the vCPUs, before
        // the reply (so a timer armed here is armed when the guest runs on).
        return Done(ref call, TdVmcall.Success, IsApicEffect((uint)index) ? ApicWritten(call.Vcpu, (uint)index, call.Regs[Gpr.R13]) : null);
    }

    /// <summary>
    /// GHCI TDG.VP.VMCALL&lt;Instruction.HLT&gt; (12): R12 = 1 when the guest's interrupts are blocked (RFLAGS.IF = 0).
    /// The vCPU blocks: no reply now, a <see cref="VcpuHalted"/> event for the machine; <see cref="Wake"/> later
    /// returns the SUCCESS reply (KVM wakes it on an interrupt; a host may also set it runnable).
    /// </summary>
    private VmcallOutcome InstructionHlt(ref Call call)
    {
        bool interruptsBlocked = call.Regs[Gpr.R12] != 0;
        if (!interruptsBlocked && TakeWakePending(call.Vcpu))
        {
            // An interrupt was posted since the vCPU last woke: it has an event, so it does not block.
            return Done(ref call, TdVmcall.Success);
        }

        Volatile.Write(ref _haltBlocked[call.Vcpu], interruptsBlocked ? 1 : 0);
        call.Regs[Gpr.R10] = TdVmcall.Success;
        Volatile.Write(ref _pendingHalt[call.Vcpu], Reply(ref call));
        Counters.Halted(call.Vcpu);
        return new VmcallOutcome(VmcallDisposition.Halted, null, [new VcpuHalted(call.Vcpu, interruptsBlocked, TimerArmed(call.Vcpu))], null);
    }
}
