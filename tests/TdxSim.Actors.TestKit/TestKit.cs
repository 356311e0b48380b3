using Xunit;

namespace TdxSim.Actors.TestKit;

/// <summary>
/// Base class for xunit actor tests (Akka.TestKit.Xunit2's <c>TestKit</c>): each test gets a fresh
/// <see cref="TestKitBase.Sys"/> and <see cref="TestKitBase.TestActor"/>; the system is terminated when xunit
/// disposes the test class.
/// </summary>
/// <example>
/// <code>
/// public sealed class EchoTests : TestKit
/// {
///     [Fact]
///     public void Echo_RepliesToSender()
///     {
///         var echo = Sys.ActorOf(Props.Create&lt;Echo&gt;(), "echo");
///         echo.Tell(new Ping(1), TestActor);
///         ExpectMsg&lt;Pong&gt;(p =&gt; p.Id == 1);
///     }
/// }
/// </code>
/// </example>
public abstract class TestKit : TestKitBase, IDisposable, IAsyncLifetime
{
    private int _disposed;

    /// <summary>Creates the system (concurrent by default; pass options for deterministic or virtual time).</summary>
    protected TestKit(ActorSystemOptions? options = null, TestKitSettings? settings = null, string? systemName = null)
        : base(ActorSystem.Create(systemName ?? "test", options), settings ?? TestKitSettings.FromEnvironment(), "testActor")
    {
    }

    /// <inheritdoc />
    public Task InitializeAsync() => Task.CompletedTask;

    /// <inheritdoc />
    public Task DisposeAsync()
    {
        Dispose();
        return Task.CompletedTask;
    }

    /// <summary>Terminates the system (waiting up to 10 s, dilated).</summary>
    public void Dispose()
    {
        Dispose(true);
        GC.SuppressFinalize(this);
    }

    /// <summary>Terminates the system once.</summary>
    protected virtual void Dispose(bool disposing)
    {
        if (!disposing || Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        Task terminated = Sys.Terminate();
        if (!terminated.Wait(Dilated(TimeSpan.FromSeconds(10))))
        {
            throw new TimeoutException($"Actor system '{Sys.Name}' did not terminate within {Dilated(TimeSpan.FromSeconds(10))}.");
        }
    }
}
