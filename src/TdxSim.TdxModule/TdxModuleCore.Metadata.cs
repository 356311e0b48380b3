using TdxSim.Abi;
using TdxSim.TdxModule.Metadata;

namespace TdxSim.TdxModule;

// TDG.VM.RD (leaf 7) and TDG.VM.WR (leaf 8): reference 1.3; [MOD] tdg_vm_rd_wr.c, metadata_generic.c, metadata_td.c.
public sealed partial class TdxModuleCore
{
    /// <summary>TD_CTLS bits a guest may change here. VIRT_CPUID2, REDUCE_VE and LOCK are not supported by this module.</summary>
    public const ulong GuestWritableTdCtls = TdCtls.PendingVeDisable | TdCtls.EnumTopology;

    /// <summary>NOTIFY_ENABLES bit 0: notify the guest of a suspected zero-step attack (the only defined bit).</summary>
    public const ulong GuestWritableNotifyEnables = 1;

    /// <summary>
    /// The TD-scope fields the guest may access, in field-id order (class code, then field code), which is the
    /// order TDG.VM.RD version 1 enumerates. Canonical ids carry the TD context code and the element size.
    /// ATTRIBUTES and XFAM are not exposed: their guest field ids are not in the references used.
    /// </summary>
    public static ReadOnlySpan<TdMetadataFieldInfo> MetadataFields => FieldTable;

    private const int NotifyEnablesField = 0;
    private const int ConfigFlagsField = 1;
    private const int TdCtlsField = 2;
    private const int TopologyEnumConfiguredField = 3;

    private static readonly TdMetadataFieldInfo[] FieldTable =
    [
        new(0x9110_0003_0000_0010, "NOTIFY_ENABLES", GuestWritableNotifyEnables),
        new(0x1110_0003_0000_0016, "CONFIG_FLAGS", 0),
        new(0x1110_0003_0000_0017, "TD_CTLS", GuestWritableTdCtls),
        new(0x9110_0000_0000_0019, "TOPOLOGY_ENUM_CONFIGURED", 0),
    ];

    /// <summary>
    /// RCX = 0 (the VM: only the TD itself, no L2 VMs), RDX = field id; R8 = value. Version 1 also returns the next
    /// field id in RDX (MD_FIELD_ID_NA = -1 when there is none or on error), and a null field id returns the first
    /// field id with the warning TDX_METADATA_FIRST_FIELD_ID_IN_CONTEXT.
    /// </summary>
    private TdcallOutcome VmRd(VcpuContext ctx, in Gprs regs, byte version)
    {
        const ushort Leaf = (ushort)TdcallLeaf.VmRd;
        ushort written = version > 0 ? (ushort)(GprMask.Rdx | GprMask.R8) : GprMask.R8;
        Gprs result = default;
        if (version > 0)
        {
            result[Gpr.Rdx] = MetadataFieldId.NotAvailable;
        }

        ulong fieldId = regs[Gpr.Rdx];
        int index = -1;
        if (version > 1)
        {
            result[Gpr.Rax] = TdxStatus.WithOperand(TdxStatus.OperandInvalid, Gpr.Rax);
        }
        else if (regs[Gpr.Rcx] != 0)
        {
            result[Gpr.Rax] = TdxStatus.WithOperand(TdxStatus.OperandInvalid, Gpr.Rcx);
        }
        else if (version > 0 && MetadataFieldId.IsNull(fieldId))
        {
            result[Gpr.Rdx] = FieldTable[0].Id;
            result[Gpr.Rax] = TdxStatus.MetadataFirstFieldIdInContext;
        }
        else if ((index = FindField(fieldId)) < 0)
        {
            result[Gpr.Rax] = TdxStatus.MetadataFieldIdIncorrect;
        }
        else
        {
            result[Gpr.R8] = ReadField(index);
            if (version > 0)
            {
                result[Gpr.Rdx] = index + 1 < FieldTable.Length ? FieldTable[index + 1].Id : MetadataFieldId.NotAvailable;
            }

            result[Gpr.Rax] = TdxStatus.Success;
        }

        return Done(ctx, Leaf, written, result);
    }

    /// <summary>
    /// RCX = 0, RDX = field id, R8 = value, R9 = write mask; R8 = the old value. Rules of md_td_write_element:
    /// no writable bit in the mask → METADATA_FIELD_NOT_WRITABLE; a masked non-writable bit whose value would change →
    /// METADATA_FIELD_VALUE_NOT_VALID (so Linux's NOTIFY_ENABLES write of 0 with mask -1 succeeds); TD_CTLS:
    /// PENDING_VE_DISABLE may change only with CONFIG_FLAGS.FLEXIBLE_PENDING_VE, and ENUM_TOPOLOGY may be set only when
    /// TOPOLOGY_ENUM_CONFIGURED. (METADATA_WR_MASK_NOT_VALID is what the module returns for fields that require a
    /// full-width mask; none of the guest-writable fields does, so the module never returns it here.)
    /// </summary>
    private TdcallOutcome VmWr(VcpuContext ctx, in Gprs regs)
    {
        const ushort Leaf = (ushort)TdcallLeaf.VmWr;
        Gprs result = default;
        int index;
        if (regs[Gpr.Rcx] != 0)
        {
            result[Gpr.Rax] = TdxStatus.WithOperand(TdxStatus.OperandInvalid, Gpr.Rcx);
        }
        else if ((index = FindField(regs[Gpr.Rdx])) < 0)
        {
            result[Gpr.Rax] = TdxStatus.MetadataFieldIdIncorrect;
        }
        else
        {
            result[Gpr.Rax] = WriteField(index, regs[Gpr.R8], regs[Gpr.R9], out ulong old);
            if (result[Gpr.Rax] == TdxStatus.Success)
            {
                result[Gpr.R8] = old;
            }
        }

        return Done(ctx, Leaf, GprMask.R8, result);
    }

    private static int FindField(ulong fieldId)
    {
        if (!MetadataFieldId.IsValidSingleElement(fieldId))
        {
            return -1;
        }

        ulong key = MetadataFieldId.KeyOf(fieldId);
        for (int i = 0; i < FieldTable.Length; i++)
        {
            if (MetadataFieldId.KeyOf(FieldTable[i].Id) == key)
            {
                return i;
            }
        }

        return -1;
    }

    private ulong ReadField(int index) => index switch
    {
        NotifyEnablesField => Volatile.Read(ref _notifyEnables),
        ConfigFlagsField => Options.ConfigFlags,
        TdCtlsField => Volatile.Read(ref _tdCtls),
        TopologyEnumConfiguredField => Options.TopologyEnumConfigured ? 1UL : 0,
        _ => throw new ArgumentOutOfRangeException(nameof(index), index, "no such metadata field"),
    };

    private ulong WriteField(int index, ulong value, ulong requestMask, out ulong old)
    {
        TdMetadataFieldInfo field = FieldTable[index];
        lock (_tdLock)
        {
            old = ReadField(index);
            ulong combined = field.GuestWriteMask & requestMask;
            if (combined == 0)
            {
                return TdxStatus.MetadataFieldNotWritable;
            }

            ulong forbidden = requestMask & ~field.GuestWriteMask;
            if (((old ^ value) & forbidden) != 0)
            {
                return TdxStatus.MetadataFieldValueNotValid;
            }

            ulong updated = (old & ~combined) | (value & combined);
            if (index == TdCtlsField)
            {
                if ((Options.ConfigFlags & TdConfigFlags.FlexiblePendingVe) == 0 && ((updated ^ old) & TdCtls.PendingVeDisable) != 0)
                {
                    return TdxStatus.MetadataFieldValueNotValid;
                }

                if ((updated & TdCtls.EnumTopology) != 0 && !Options.TopologyEnumConfigured)
                {
                    return TdxStatus.MetadataFieldValueNotValid;
                }

                Volatile.Write(ref _tdCtls, updated);
            }
            else if (index == NotifyEnablesField)
            {
                Volatile.Write(ref _notifyEnables, updated);
            }

            return TdxStatus.Success;
        }
    }
}
