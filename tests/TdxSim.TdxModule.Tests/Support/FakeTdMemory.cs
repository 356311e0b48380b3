using TdxSim.Abi;
using TdxSim.TdxModule.Memory;

namespace TdxSim.TdxModule.Tests.Support;

/// <summary>
/// A small in-memory <see cref="ITdMemory"/>: private pages with SEPT states, and shared pages that exist only
/// where a test converted a page with <see cref="MakeShared"/>. Accept follows reference 4.3.
/// </summary>
internal sealed class FakeTdMemory : ITdMemory
{
    private readonly byte[] _private;
    private readonly byte[] _shared;
    private readonly TdPageState[] _states;

    public FakeTdMemory(ulong privateSize, TdPageState initial = TdPageState.Accepted)
    {
        PrivateSize = privateSize;
        _private = new byte[privateSize];
        _shared = new byte[privateSize];
        _states = new TdPageState[privateSize / GuestPhysical.PageSize];
        Array.Fill(_states, initial);
    }

    public ulong PrivateSize { get; }

    public int AcceptCalls { get; private set; }

    public void SetState(ulong gpa, TdPageState state, ulong size = GuestPhysical.PageSize)
    {
        for (ulong p = gpa; p < gpa + size; p += GuestPhysical.PageSize)
        {
            _states[p / GuestPhysical.PageSize] = state;
        }
    }

    /// <summary>Converts a private page to shared, so the shared alias has a page behind it.</summary>
    public void MakeShared(ulong gpa) => SetState(GuestPhysical.StripShared(gpa), TdPageState.ConvertedToShared);

    public void Fill(ulong gpa, byte value, int length) => _private.AsSpan((int)gpa, length).Fill(value);

    public byte[] PrivateBytes(ulong gpa, int length) => _private.AsSpan((int)gpa, length).ToArray();

    public byte[] SharedBytes(ulong sharedGpa, int length) => _shared.AsSpan((int)GuestPhysical.StripShared(sharedGpa), length).ToArray();

    public void WritePrivateRaw(ulong gpa, ReadOnlySpan<byte> data) => data.CopyTo(_private.AsSpan((int)gpa));

    public void WriteSharedRaw(ulong sharedGpa, ReadOnlySpan<byte> data) => data.CopyTo(_shared.AsSpan((int)GuestPhysical.StripShared(sharedGpa)));

    public TdPageState GetPageState(ulong gpa) => gpa < PrivateSize ? _states[gpa / GuestPhysical.PageSize] : TdPageState.None;

    /// <summary>Runs at the start of every <see cref="Accept"/>, inside the module's SEPT lock (a test may block there).</summary>
    public Action<ulong>? DuringAccept { get; set; }

    public TdAcceptResult Accept(ulong gpa, int level)
    {
        DuringAccept?.Invoke(gpa);
        AcceptCalls++;
        ulong size = level == 0 ? GuestPhysical.PageSize : GuestPhysical.LargePageSize;
        if (gpa >= PrivateSize || PrivateSize - gpa < size)
        {
            return TdAcceptResult.NotMapped;
        }

        int pending = 0;
        int accepted = 0;
        for (ulong p = gpa; p < gpa + size; p += GuestPhysical.PageSize)
        {
            switch (GetPageState(p))
            {
                case TdPageState.Pending: pending++; break;
                case TdPageState.Accepted: accepted++; break;
                default: return TdAcceptResult.NotMapped;
            }
        }

        int count = (int)(size / GuestPhysical.PageSize);
        if (accepted == count)
        {
            return TdAcceptResult.AlreadyAccepted;
        }

        if (pending != count)
        {
            return TdAcceptResult.SizeMismatch;
        }

        _private.AsSpan((int)gpa, (int)size).Clear();
        SetState(gpa, TdPageState.Accepted, size);
        return TdAcceptResult.Success;
    }

    public bool TryReadPrivate(ulong gpa, Span<byte> destination)
    {
        if (!All(gpa, destination.Length, TdPageState.Accepted))
        {
            return false;
        }

        _private.AsSpan((int)gpa, destination.Length).CopyTo(destination);
        return true;
    }

    public bool TryWritePrivate(ulong gpa, ReadOnlySpan<byte> source)
    {
        if (!All(gpa, source.Length, TdPageState.Accepted))
        {
            return false;
        }

        source.CopyTo(_private.AsSpan((int)gpa));
        return true;
    }

    public bool TryReadShared(ulong gpa, Span<byte> destination)
    {
        ulong g = GuestPhysical.StripShared(gpa);
        if (!GuestPhysical.IsShared(gpa) || !All(g, destination.Length, TdPageState.ConvertedToShared))
        {
            return false;
        }

        _shared.AsSpan((int)g, destination.Length).CopyTo(destination);
        return true;
    }

    public bool TryWriteShared(ulong gpa, ReadOnlySpan<byte> source)
    {
        ulong g = GuestPhysical.StripShared(gpa);
        if (!GuestPhysical.IsShared(gpa) || !All(g, source.Length, TdPageState.ConvertedToShared))
        {
            return false;
        }

        source.CopyTo(_shared.AsSpan((int)g));
        return true;
    }

    private bool All(ulong gpa, int length, TdPageState state)
    {
        if (gpa >= PrivateSize || PrivateSize - gpa < (ulong)length)
        {
            return false;
        }

        for (ulong p = gpa & ~(GuestPhysical.PageSize - 1); p < gpa + (ulong)length; p += GuestPhysical.PageSize)
        {
            if (GetPageState(p) != state)
            {
                return false;
            }
        }

        return true;
    }
}
