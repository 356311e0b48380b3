using System.Reflection;
using System.Runtime.ExceptionServices;
using TdxSim.Actors.Mailboxes;
using TdxSim.Actors.Supervision;

namespace TdxSim.Actors;

/// <summary>
/// An immutable recipe for an actor: how to construct it (again, on restart), how it supervises its
/// children and what mailbox it gets.
/// </summary>
public sealed class Props
{
    private readonly Func<ActorBase> _factory;

    private Props(Type actorType, Func<ActorBase> factory, SupervisorStrategy? supervisorStrategy, MailboxOptions mailbox)
    {
        ActorType = actorType;
        _factory = factory;
        SupervisorStrategy = supervisorStrategy;
        Mailbox = mailbox;
    }

    /// <summary>The actor class.</summary>
    public Type ActorType { get; }

    /// <summary>Strategy for this actor's children; null uses the actor's override or <see cref="SupervisorStrategy.DefaultStrategy"/>.</summary>
    public SupervisorStrategy? SupervisorStrategy { get; }

    /// <summary>The mailbox kind.</summary>
    public MailboxOptions Mailbox { get; }

    /// <summary>Props for an actor with a parameterless constructor.</summary>
    public static Props Create<TActor>()
        where TActor : ActorBase, new() =>
        new(typeof(TActor), static () => Construct<TActor>(), null, MailboxOptions.Unbounded);

    /// <summary>
    /// Props from a factory, e.g. <c>Props.Create(() => new VcpuActor(index, memory))</c>. The factory runs on
    /// every start and restart and must return a new instance each time.
    /// </summary>
    public static Props Create<TActor>(Func<TActor> factory)
        where TActor : ActorBase
    {
        ArgumentNullException.ThrowIfNull(factory);
        return new(typeof(TActor), factory, null, MailboxOptions.Unbounded);
    }

    /// <summary>Returns a copy whose actor supervises its children with <paramref name="strategy"/>.</summary>
    public Props WithSupervisorStrategy(SupervisorStrategy strategy)
    {
        ArgumentNullException.ThrowIfNull(strategy);
        return new(ActorType, _factory, strategy, Mailbox);
    }

    /// <summary>Returns a copy with another mailbox kind (e.g. <see cref="MailboxOptions.Bounded"/>).</summary>
    public Props WithMailbox(MailboxOptions mailbox)
    {
        ArgumentNullException.ThrowIfNull(mailbox);
        return new(ActorType, _factory, SupervisorStrategy, mailbox);
    }

    internal ActorBase NewActor() => _factory();

    /// <summary><c>new T()</c> goes through Activator, which wraps constructor exceptions; report the real one.</summary>
    private static TActor Construct<TActor>()
        where TActor : ActorBase, new()
    {
        try
        {
            return new TActor();
        }
        catch (TargetInvocationException wrapped) when (wrapped.InnerException is not null)
        {
            ExceptionDispatchInfo.Throw(wrapped.InnerException);
            throw;
        }
    }

    /// <inheritdoc />
    public override string ToString() => $"Props({ActorType.Name})";
}
