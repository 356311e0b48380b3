namespace TdxSim.Actors.Supervision;

/// <summary>
/// How an actor treats failures of its children. Set per actor with <see cref="Props.WithSupervisorStrategy"/>
/// or by overriding <see cref="ActorBase.SupervisorStrategy"/>; top-level actors are supervised by the user
/// guardian, whose strategy is <see cref="ActorSystemOptions.GuardianSupervisorStrategy"/>.
/// </summary>
public abstract class SupervisorStrategy
{
    /// <summary>Number of restarts <see cref="DefaultStrategy"/> allows within <see cref="DefaultRetryWindow"/>.</summary>
    public const int DefaultMaxRetries = 10;

    /// <summary>The window of <see cref="DefaultStrategy"/>'s retry limit (measured with the system clock).</summary>
    public static readonly TimeSpan DefaultRetryWindow = TimeSpan.FromMinutes(1);

    /// <summary>
    /// The strategy of every actor that sets none: one-for-one with <see cref="DefaultDecider"/>, at most
    /// <see cref="DefaultMaxRetries"/> (10) restarts per child within <see cref="DefaultRetryWindow"/> (1 minute);
    /// a child failing more often is stopped. (Akka's default allows unlimited restarts; a crash-looping vCPU
    /// should stop instead of spinning.)
    /// </summary>
    public static SupervisorStrategy DefaultStrategy { get; } =
        new OneForOneStrategy(DefaultMaxRetries, DefaultRetryWindow, DefaultDecider);

    /// <summary>A strategy that stops every failing child.</summary>
    public static SupervisorStrategy StoppingStrategy { get; } = new OneForOneStrategy(static _ => Directive.Stop);

    /// <summary>
    /// Akka's default decider: <see cref="ActorInitializationException"/>, <see cref="ActorKilledException"/>
    /// and <see cref="DeathPactException"/> stop the child; any other exception restarts it.
    /// </summary>
    public static Directive DefaultDecider(Exception exception) => exception switch
    {
        ActorInitializationException => Directive.Stop,
        ActorKilledException => Directive.Stop,
        DeathPactException => Directive.Stop,
        _ => Directive.Restart,
    };

    /// <summary>Chooses the directive for <paramref name="exception"/>.</summary>
    public abstract Directive Decide(Exception exception);

    /// <summary>
    /// Asks whether one more restart of a child is allowed, updating <paramref name="statistics"/>;
    /// <see langword="false"/> means the retry limit is exhausted and the child must stop.
    /// </summary>
    internal abstract bool RequestRestartPermission(RestartStatistics statistics, long nowNanoseconds);
}
