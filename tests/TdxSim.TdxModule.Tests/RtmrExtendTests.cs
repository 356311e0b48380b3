using System.Security.Cryptography;
using TdxSim.Abi;
using TdxSim.Abi.Messages;
using TdxSim.TdxModule.Memory;
using TdxSim.TdxModule.Tests.Support;

namespace TdxSim.TdxModule.Tests;

/// <summary>TDG.MR.RTMR.EXTEND: RTMR[i] = SHA-384(RTMR[i] ‖ 48 bytes) (reference 1.3).</summary>
public sealed class RtmrExtendTests
{
    private const ulong Leaf = (ulong)TdcallLeaf.MrRtmrExtend;

    private static byte[] Rtmr(TdxModuleCore core, int index)
    {
        byte[] value = new byte[48];
        core.ReadRtmr(index, value);
        return value;
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void Extend_IsASha384Chain_OnOneRtmrOnly(int index)
    {
        var h = new ModuleHarness();
        byte[] expected = new byte[48];
        for (int round = 0; round < 3; round++)
        {
            byte[] data = Enumerable.Range(0, 48).Select(i => (byte)((round * 48) + i)).ToArray();
            ulong gpa = 0x4000 + ((ulong)round * 64);
            h.Memory.WritePrivateRaw(gpa, data);
            TdcallCompleted c = h.Call(round % 2, Leaf, rcx: gpa, rdx: (ulong)index);
            Assert.Equal(TdxStatus.Success, c.CompletionStatus);
            Assert.Equal(GprMask.Rax, c.WrittenRegisters);
            expected = SHA384.HashData(expected.Concat(data).ToArray());
            Assert.Equal(expected, Rtmr(h.Core, index));
        }

        for (int other = 0; other < 4; other++)
        {
            if (other != index)
            {
                Assert.Equal(new byte[48], Rtmr(h.Core, other));
            }
        }
    }

    [Theory]
    [InlineData(0x4008UL, 0UL, 0xC000_0100_0000_0001UL)]                       // not 64-aligned
    [InlineData(0x4020UL, 0UL, 0xC000_0100_0000_0001UL)]
    [InlineData(GuestPhysical.SharedBit | 0x4000, 0UL, 0xC000_0100_0000_0001UL)] // private only
    [InlineData((1UL << 48) | 0x4000, 0UL, 0xC000_0100_0000_0001UL)]           // beyond GPAW
    [InlineData(0x4001UL, 9UL, 0xC000_0100_0000_0001UL)]                       // RCX is checked first
    [InlineData(0x4000UL, 4UL, 0xC000_0100_0000_0002UL)]
    [InlineData(0x4000UL, 5UL, 0xC000_0100_0000_0002UL)]
    [InlineData(0x4000UL, ulong.MaxValue, 0xC000_0100_0000_0002UL)]
    public void BadOperand_IsOperandInvalidWithItsOperandId(ulong rcx, ulong rdx, ulong expected)
    {
        var h = new ModuleHarness();
        Assert.Equal(expected, h.Call(0, Leaf, rcx: rcx, rdx: rdx).CompletionStatus);
        for (int i = 0; i < 4; i++)
        {
            Assert.Equal(new byte[48], Rtmr(h.Core, i));
        }
    }

    [Theory]
    [InlineData(0UL, TdEntryAction.VeInjected)]
    [InlineData(TdAttributes.SeptVeDisable, TdEntryAction.TdKilled)]
    public void PendingDataPage_IsAnEptViolation(ulong attributes, TdEntryAction action)
    {
        var h = new ModuleHarness(new TdxModuleOptions { NumVcpus = 1, Attributes = attributes });
        h.Memory.SetState(0x4000, TdPageState.Pending);
        TdcallOutcome outcome = h.Outcome(0, Leaf, rcx: 0x4040, rdx: 0);
        Assert.Equal(TdcallOutcomeKind.Faulted, outcome.Kind);
        Assert.Equal(action, outcome.Fault!.Action);
        Assert.Equal(0x4040UL, outcome.Fault.Exit.Gpa);
        Assert.Equal(new byte[48], Rtmr(h.Core, 0));
    }

    [Fact]
    public void ConcurrentExtends_AreSerialized()
    {
        var h = new ModuleHarness(new TdxModuleOptions { NumVcpus = 4 });
        byte[] data = Enumerable.Repeat((byte)0x5C, 48).ToArray();
        h.Memory.WritePrivateRaw(0x8000, data);
        Parallel.For(0, 4, vcpu =>
        {
            for (int i = 0; i < 50; i++)
            {
                Assert.Equal(TdxStatus.Success, h.Call(vcpu, Leaf, rcx: 0x8000, rdx: 3).CompletionStatus);
            }
        });

        byte[] expected = new byte[48];
        for (int i = 0; i < 200; i++)
        {
            expected = SHA384.HashData(expected.Concat(data).ToArray());
        }

        Assert.Equal(expected, Rtmr(h.Core, 3));
    }
}
