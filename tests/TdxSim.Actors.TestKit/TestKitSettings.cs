using System.Globalization;

namespace TdxSim.Actors.TestKit;

/// <summary>
/// Timing settings of the test kit. The time factor scales every timeout (<see cref="TestKitBase.Dilated"/>),
/// like Akka's <c>akka.test.timefactor</c>: raise it on slow CI machines instead of editing tests.
/// </summary>
public sealed record TestKitSettings
{
    /// <summary>Environment variable read by <see cref="FromEnvironment"/>, e.g. <c>TDXSIM_TEST_TIMEFACTOR=3</c>.</summary>
    public const string TimeFactorVariable = "TDXSIM_TEST_TIMEFACTOR";

    /// <summary>Multiplier for every timeout; at least 1 is sensible, must be positive.</summary>
    public double TimeFactor { get; init; } = 1.0;

    /// <summary>Default wait of <c>ExpectMsg</c> and friends outside <c>Within</c> (before dilation): 3 s, as in Akka.</summary>
    public TimeSpan SingleExpectDefault { get; init; } = TimeSpan.FromSeconds(3);

    /// <summary>Default quiet period of <c>ExpectNoMsg()</c> (before dilation).</summary>
    public TimeSpan ExpectNoMessageDefault { get; init; } = TimeSpan.FromMilliseconds(100);

    /// <summary>Polling interval of <c>AwaitCondition</c>/<c>AwaitAssert</c> under the concurrent dispatcher.</summary>
    public TimeSpan PollInterval { get; init; } = TimeSpan.FromMilliseconds(5);

    /// <summary>
    /// Upper bound on deterministic-dispatcher steps one wait may run, so a test of actors that never go idle
    /// fails instead of hanging.
    /// </summary>
    public long MaxDeterministicSteps { get; init; } = 10_000_000;

    /// <summary>Defaults, with <see cref="TimeFactor"/> taken from <see cref="TimeFactorVariable"/> when set.</summary>
    public static TestKitSettings FromEnvironment() => FromTimeFactorText(Environment.GetEnvironmentVariable(TimeFactorVariable));

    /// <summary>Defaults with the time factor parsed from <paramref name="text"/> (invariant culture); null or blank means 1.</summary>
    /// <exception cref="InvalidOperationException">The text is not a positive, finite number.</exception>
    public static TestKitSettings FromTimeFactorText(string? text)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            return new TestKitSettings();
        }

        if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double factor) || !(factor > 0) || double.IsInfinity(factor))
        {
            throw new InvalidOperationException($"{TimeFactorVariable}='{text}' is not a positive number.");
        }

        return new TestKitSettings { TimeFactor = factor };
    }
}
