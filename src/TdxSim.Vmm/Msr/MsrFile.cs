namespace TdxSim.Vmm.Msr;

/// <summary>
/// The values of the MSRs of an <see cref="MsrTable"/> for every vCPU. Guest accesses obey the table's access rights
/// and reserved bits; host accesses (scenario setup, the selftest's "host pre-sets ICR = 4", final-state checks)
/// ignore them. Thread-safe: each value is a single 64-bit word read and written atomically.
/// </summary>
public sealed class MsrFile
{
    private readonly ulong[] _values;
    private readonly int _stride;

    /// <summary>Creates the values of <paramref name="table"/> for <paramref name="vcpuCount"/> vCPUs at reset.</summary>
    public MsrFile(MsrTable table, int vcpuCount)
    {
        ArgumentNullException.ThrowIfNull(table);
        ArgumentOutOfRangeException.ThrowIfLessThan(vcpuCount, 1);
        Table = table;
        VcpuCount = vcpuCount;
        _stride = table.Definitions.Count;
        _values = new ulong[_stride * vcpuCount];
        for (int v = 0; v < vcpuCount; v++)
        {
            for (int s = 0; s < _stride; s++)
            {
                _values[(v * _stride) + s] = table.Definitions[s].ResetValueFor(v);
            }
        }
    }

    /// <summary>The policy.</summary>
    public MsrTable Table { get; }

    /// <summary>Number of vCPUs.</summary>
    public int VcpuCount { get; }

    /// <summary>Guest RDMSR: false when the MSR is denied or write-only.</summary>
    public bool TryGuestRead(int vcpu, uint index, out ulong value)
    {
        if (!Table.TryGetSlot(index, out int slot) || !Table.Definitions[slot].Readable)
        {
            value = 0;
            return false;
        }

        value = Volatile.Read(ref _values[Position(vcpu, slot)]);
        return true;
    }

    /// <summary>Guest WRMSR: false (nothing written) when the MSR is denied or read-only, or a reserved bit is set.</summary>
    public bool TryGuestWrite(int vcpu, uint index, ulong value)
    {
        if (!Table.TryGetSlot(index, out int slot))
        {
            return false;
        }

        MsrDefinition d = Table.Definitions[slot];
        if (!d.Writable || (value & d.ReservedBits) != 0)
        {
            return false;
        }

        if (!d.IgnoreGuestWrites)
        {
            Volatile.Write(ref _values[Position(vcpu, slot)], value);
        }

        return true;
    }

    /// <summary>Host read, whatever the access rights.</summary>
    /// <exception cref="ArgumentException">The table has no such MSR.</exception>
    public ulong HostRead(int vcpu, uint index) => Volatile.Read(ref _values[Position(vcpu, HostSlot(index))]);

    /// <summary>Host write, whatever the access rights and reserved bits.</summary>
    /// <exception cref="ArgumentException">The table has no such MSR.</exception>
    public void HostWrite(int vcpu, uint index, ulong value) => Volatile.Write(ref _values[Position(vcpu, HostSlot(index))], value);

    private int HostSlot(uint index) =>
        Table.TryGetSlot(index, out int slot) ? slot : throw new ArgumentException($"MSR 0x{index:X} is not in the VMM's MSR table", nameof(index));

    private int Position(int vcpu, int slot)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual((uint)vcpu, (uint)VcpuCount, nameof(vcpu));
        return Table.Definitions[slot].Scope == MsrScope.Vm ? slot : (vcpu * _stride) + slot;
    }
}
