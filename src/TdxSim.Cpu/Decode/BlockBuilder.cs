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
        _reader.Reset(c, rip);
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
        return new Block(rip, ops, count, details, gen0, g0, gen1, g1)
        {
            Epoch = c->TlbEpoch,
            PhysPage0 = _reader.PhysPage0,
            LinearPage1 = _reader.LinearPage1,
            PhysPage1 = _reader.PhysPage1,
        };
    }

    /// <summary>Iced code reader over guest private memory that marks the pages it reads as holding code. With paging on,
    /// each linear page is translated (for an instruction fetch) before it is read.</summary>
    private sealed class GuestCodeReader : CodeReader
    {
        private readonly GuestPhysicalMemory _memory;
        private readonly byte[] _bytes = new byte[MaxInstructionLength];
        private CpuCore* _core;
        private ulong _address;
        private ulong _instructionStart;
        private int _instructionBytes;
        private ulong _lin0 = ulong.MaxValue;
        private ulong _page0 = ulong.MaxValue;
        private uint _gen0;
        private ulong _lin1 = ulong.MaxValue;
        private ulong _page1 = ulong.MaxValue;
        private uint _gen1;

        public GuestCodeReader(GuestPhysicalMemory memory) => _memory = memory;

        public bool Faulted { get; private set; }

        /// <summary>True when the fault was already stored in the core (a #PF or #GP from the page walk).</summary>
        public bool FaultStored { get; private set; }

        public ulong FaultAddress { get; private set; }

        /// <summary>The guest-physical page (and for a straddling block the second one) the block was read from.</summary>
        public ulong PhysPage0 => _page0;

        public ulong PhysPage1 => _page1;

        public ulong LinearPage1 => _lin1;

        public void Reset(CpuCore* core, ulong rip)
        {
            _core = core;
            _address = rip;
            _lin0 = _lin1 = ulong.MaxValue;
            _page0 = _page1 = ulong.MaxValue;
            Faulted = false;
            FaultStored = false;
        }

        public void BeginInstruction(ulong ip)
        {
            _instructionStart = ip;
            _address = ip;
            _instructionBytes = 0;
        }

        public int CopyInstructionBytes(Span<byte> destination)
        {
            int n = Math.Min(destination.Length, _instructionBytes);
            _bytes.AsSpan(0, n).CopyTo(destination);
            return n;
        }

        public override int ReadByte()
        {
            if (Faulted)
            {
                return -1;
            }

            ulong lin = _address >> GuestPhysical.PageShift;
            ulong page;
            if (lin == _lin0)
            {
                page = _page0;
            }
            else if (lin == _lin1)
            {
                page = _page1;
            }
            else if (!Admit(lin, out page))
            {
                Faulted = true;
                FaultAddress = _address;
                return -1;
            }

            byte b = _memory.PrivateBase[(page << GuestPhysical.PageShift) | (_address & (GuestPhysical.PageSize - 1))];
            _address++;
            if (_instructionBytes < _bytes.Length)
            {
                _bytes[_instructionBytes++] = b;
            }

            return b;
        }

        /// <summary>Stores the exit for an instruction fetch that failed at <see cref="FaultAddress"/>.</summary>
        public void StoreFetchFault(CpuCore* c)
        {
            if (FaultStored)
            {
                return;
            }

            ulong gpa = FaultAddress;
            if (c->Paging != 0)
            {
                if (!Paging.Translate(c, FaultAddress, Access.Fetch, out gpa))
                {
                    return;
                }
            }

            if (gpa > GuestPhysical.AddressMask)
            {
                c->SetException(CpuExit.GeneralProtection, 0, FaultDetail.BeyondGpaw);
                c->VeGla = gpa;
                return;
            }

            int ignored = Status.Continue;
            if (MemoryAccess.Slow(c, FaultAddress, 1, Access.Fetch, ref ignored) != null)
            {
                // The page became fetchable between the two looks (a racing accept): report a pending-page #VE anyway,
                // the guest retries the fetch.
                c->SetVe(VeExitReason.EptViolation, MemoryAccess.Qualification(Access.Fetch), FaultAddress, gpa);
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

        private bool Admit(ulong lin, out ulong page)
        {
            page = lin;
            ulong la = lin << GuestPhysical.PageShift;
            if (_core->Paging != 0)
            {
                CoreExit saved = _core->Exit;
                if (!Paging.Translate(_core, la, Access.Fetch, out ulong gpa))
                {
                    // The walk stored the #PF or #GP: for the block's first instruction it is the fetch fault; after
                    // that the block just ends before the unfetchable instruction.
                    FaultStored = true;
                    if (_lin0 != ulong.MaxValue)
                    {
                        _core->Exit = saved;
                    }

                    return false;
                }

                page = gpa >> GuestPhysical.PageShift;
            }

            if (GuestPhysical.IsShared(page << GuestPhysical.PageShift) || !_memory.TryMarkCode(page, out uint gen))
            {
                FaultStored = false;
                return false;
            }

            if (_page0 == ulong.MaxValue)
            {
                _lin0 = lin;
                _page0 = page;
                _gen0 = gen;
            }
            else
            {
                _lin1 = lin;
                _page1 = page;
                _gen1 = gen;
            }

            return true;
        }
    }
}
