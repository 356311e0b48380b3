using System.Buffers.Binary;
using TdxSim.Abi;
using TdxSim.Abi.Messages;
using TdxSim.Devices.Bus;

namespace TdxSim.Vmm;

// Port I/O and MMIO: the two device paths.
public sealed partial class VmmCore
{
    /// <summary>
    /// GHCI TDG.VP.VMCALL&lt;Instruction.IO&gt; (30): R12 size 1/2/4, R13 direction 0 = IN / 1 = OUT, R14 port,
    /// R15 data for OUT; an IN returns the value, zero-extended from the access size, in R11.
    /// </summary>
    private VmcallOutcome InstructionIo(ref Call call)
    {
        ulong size = call.Regs[Gpr.R12];
        ulong direction = call.Regs[Gpr.R13];
        ulong port = call.Regs[Gpr.R14];
        if (size is not (1 or 2 or 4) || direction > TdVmcall.IoDirectionOut || port >= DeviceBus.PortSpaceSize)
        {
            return Done(ref call, TdVmcall.InvalidOperand);
        }

        IReadOnlyList<ITdxMessage> events;
        _deviceEvents.Begin(call.Vcpu);
        try
        {
            if (direction == TdVmcall.IoDirectionOut)
            {
                _ports.Write(port, (int)size, call.Regs[Gpr.R15]);
            }
            else
            {
                call.Regs[Gpr.R11] = _ports.Read(port, (int)size);
            }
        }
        finally
        {
            events = _deviceEvents.End();
        }

        return Done(ref call, TdVmcall.Success, events);
    }

    /// <summary>
    /// GHCI TDG.VP.VMCALL&lt;#VE.RequestMMIO&gt; (48): R12 size 1/2/4/8, R13 0 = read / 1 = write, R14 GPA, R15 data for
    /// a write; a read returns the value in R11. As in KVM, both ends of the access must be shared GPAs within GPAW and
    /// the access must stay in one page, else INVALID_OPERAND. The shared bit is stripped; a GPA backed by a shared page
    /// reaches that memory, any other goes to the MMIO bus.
    /// </summary>
    private VmcallOutcome RequestMmio(ref Call call)
    {
        ulong size = call.Regs[Gpr.R12];
        ulong direction = call.Regs[Gpr.R13];
        ulong gpa = call.Regs[Gpr.R14];
        if (size is not (1 or 2 or 4 or 8) || direction > TdVmcall.MmioWrite)
        {
            return Done(ref call, TdVmcall.InvalidOperand);
        }

        ulong last = gpa + size - 1;
        if (gpa > GuestPhysical.AddressMask || last > GuestPhysical.AddressMask || !GuestPhysical.IsShared(gpa) || !GuestPhysical.IsShared(last)
            || (gpa >> GuestPhysical.PageShift) != (last >> GuestPhysical.PageShift))
        {
            return Done(ref call, TdVmcall.InvalidOperand);
        }

        ulong address = GuestPhysical.StripShared(gpa);
        int bytes = (int)size;
        if (_memory.IsSharedBacked(address) && TrySharedMemoryAccess(ref call, address, bytes, direction == TdVmcall.MmioWrite))
        {
            return Done(ref call, TdVmcall.Success);
        }

        IReadOnlyList<ITdxMessage> events;
        _deviceEvents.Begin(call.Vcpu);
        try
        {
            if (direction == TdVmcall.MmioWrite)
            {
                _mmio.Write(address, bytes, call.Regs[Gpr.R15]);
            }
            else
            {
                call.Regs[Gpr.R11] = _mmio.Read(address, bytes);
            }
        }
        finally
        {
            events = _deviceEvents.End();
        }

        return Done(ref call, TdVmcall.Success, events);
    }

    /// <summary>Reads or writes a shared page little-endian; false if the page went away meanwhile (a racing MapGPA).</summary>
    private bool TrySharedMemoryAccess(ref Call call, ulong address, int size, bool write)
    {
        Span<byte> buffer = stackalloc byte[8];
        if (write)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(buffer, call.Regs[Gpr.R15]);
            return _memory.TryWriteShared(address, buffer[..size]);
        }

        buffer.Clear();
        if (!_memory.TryReadShared(address, buffer[..size]))
        {
            return false;
        }

        call.Regs[Gpr.R11] = BinaryPrimitives.ReadUInt64LittleEndian(buffer);
        return true;
    }
}
