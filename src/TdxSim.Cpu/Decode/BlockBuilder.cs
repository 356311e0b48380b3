using Iced.Intel;
using TdxSim.Abi;
using TdxSim.Cpu.Exec;
using TdxSim.Memory;

namespace TdxSim.Cpu.Decode;

/// <summary>
/// Decodes a basic block at a guest address with Iced, translates each instruction and runs the flag-liveness pass:
/// walking backwards from the block end (where every flag is live), an instruction whose written flags are all
/// overwritten before any read gets its flag-skipping handler. Instructions that may fault, exit or stop the block
/// are barriers where every flag is live on both sides, so the architectural RFLAGS is exact wherever execution
/// can stop.
/// </summary>
internal sealed unsafe class BlockBuilder
{
    private const int MaxInstructionLength = 15;
    private readonly int _maxInstructions;
    private readonly GuestCodeReader _reader;
    private readonly Translation[] _translations;
    private readonly Op[] _scratch;

    public BlockBuilder(GuestPhysicalMemory memory, int maxInstructions)
    {
        _maxInstructions = maxInstructions;
        _reader = new GuestCodeReader(memory);
        _translations = new Translation[maxInstructions];
        _scratch = new Op[maxInstructions];
    }

    /// <summary>Builds the block at <paramref name="rip"/>; null when its first instruction cannot be fetched (exit stored in the core).</summary>
    public Block? Build(CpuCore* c, ulong rip)
    {
        _reader.Reset(rip);
        var decoder = Decoder.Create(64, _reader, rip, DecoderOptions.None);
        ulong startPage = rip >> GuestPhysical.PageShift;
        int count = 0;
        string?[]? details = null;
        Span<byte> bytes = stackalloc byte[MaxInstructionLength];
        while (count < _maxInstructions)
        {
            ulong ip = decoder.IP;
            _reader.BeginInstruction(ip);
            decoder.Decode(out Instruction instr);
            if (_reader.Faulted)
            {
                if (count == 0)
                {
                    _reader.StoreFetchFault(c);
                    return null;
                }

                break;
            }

            ref Op op = ref _scratch[count];
            op = default;
            op.Rip = ip;
            op.Len = (byte)instr.Length;
            int length = _reader.CopyInstructionBytes(bytes);
            Translation t = Translator.Translate(in instr, ref op, count, bytes[..length]);
            _translations[count] = t;
            if (t.Detail != null)
            {
                details ??= new string?[_maxInstructions];
                details[count] = t.Detail;
            }

            count++;
            if (t.Ends || (decoder.IP >> GuestPhysical.PageShift) != startPage)
            {
                break;
            }
        }

        var ops = GC.AllocateArray<Op>(count, pinned: true);
        ulong live = Flags.Status;
        for (int k = count - 1; k >= 0; k--)
        {
            ref readonly Translation t = ref _translations[k];
            if (t.Barrier)
            {
                live = Flags.Status;
            }

            ops[k] = _scratch[k];
            ops[k].Precise = t.Precise;
            ops[k].Fn = t.Fast != null && (t.Writes & live) == 0 ? t.Fast : t.Precise;
            live = t.Barrier ? Flags.Status : (live & ~t.Kill) | t.Read;
        }

        _reader.Generations(out uint* gen0, out uint g0, out uint* gen1, out uint g1);
        return new Block(rip, ops, count, details, gen0, g0, gen1, g1);
    }

    /// <summary>Iced code reader over guest private memory that marks the pages it reads as holding code.</summary>
    private sealed class GuestCodeReader : CodeReader
    {
        private readonly GuestPhysicalMemory _memory;
        private ulong _address;
        private ulong _instructionStart;
        private ulong _page0 = ulong.MaxValue;
        private uint _gen0;
        private ulong _page1 = ulong.MaxValue;
        private uint _gen1;

        public GuestCodeReader(GuestPhysicalMemory memory) => _memory = memory;

        public bool Faulted { get; private set; }

        public ulong FaultAddress { get; private set; }

        public void Reset(ulong rip)
        {
            _address = rip;
            _page0 = _page1 = ulong.MaxValue;
            Faulted = false;
        }

        public void BeginInstruction(ulong ip)
        {
            _instructionStart = ip;
            _address = ip;
        }

        public int CopyInstructionBytes(Span<byte> destination)
        {
            int n = (int)Math.Min((ulong)destination.Length, _address - _instructionStart);
            new ReadOnlySpan<byte>(_memory.PrivateBase + _instructionStart, n).CopyTo(destination);
            return n;
        }

        public override int ReadByte()
        {
            if (Faulted)
            {
                return -1;
            }

            ulong page = _address >> GuestPhysical.PageShift;
            if (page != _page0 && page != _page1 && !Admit(page))
            {
                Faulted = true;
                FaultAddress = _address;
                return -1;
            }

            return _memory.PrivateBase[_address++];
        }

        /// <summary>Stores the exit for an instruction fetch that failed at <see cref="FaultAddress"/>.</summary>
        public void StoreFetchFault(CpuCore* c)
        {
            ulong gpa = FaultAddress;
            if (gpa > GuestPhysical.AddressMask)
            {
                c->SetException(CpuExit.GeneralProtection, 0, FaultDetail.BeyondGpaw);
                c->VeGla = gpa;
                return;
            }

            int ignored = Status.Continue;
            if (MemoryAccess.Slow(c, gpa, 1, Access.Fetch, ref ignored) != null)
            {
                // The page became fetchable between the two looks (a racing accept): report a pending-page #VE anyway,
                // the guest retries the fetch.
                c->SetVe(VeExitReason.EptViolation, MemoryAccess.Qualification(Access.Fetch), gpa, gpa);
            }
        }

        public void Generations(out uint* gen0, out uint value0, out uint* gen1, out uint value1)
        {
            uint* gens = _memory.CodeGenerations;
            gen0 = gens + _page0;
            value0 = _gen0;
            bool two = _page1 != ulong.MaxValue;
            gen1 = two ? gens + _page1 : gen0;
            value1 = two ? _gen1 : _gen0;
        }

        private bool Admit(ulong page)
        {
            if (GuestPhysical.IsShared(page << GuestPhysical.PageShift) || !_memory.TryMarkCode(page, out uint gen))
            {
                return false;
            }

            if (_page0 == ulong.MaxValue)
            {
                _page0 = page;
                _gen0 = gen;
            }
            else
            {
                _page1 = page;
                _gen1 = gen;
            }

            return true;
        }
    }
}
