namespace TdxSim.Machine.Tests.Stress;

/// <summary><see cref="CostModelSettings.With"/>: each refusal says which part of the setting is wrong.</summary>
public sealed class CostModelSettingsTests
{
    [Theory]
    [InlineData("vmm_nanos", null, "10", CostSettingProblem.UnknownKey, "unknown cost key 'vmm_nanos'")]
    [InlineData("device_ns", "com9", "10", CostSettingProblem.UnknownName, "unknown name 'com9'")]
    [InlineData("device_ns", null, "10", CostSettingProblem.Shape, "mapping of names")]
    [InlineData("vmm_ns", "com1", "10", CostSettingProblem.Shape, "one number")]
    [InlineData("vmm_ns", null, "-5", CostSettingProblem.Value, "cannot be negative")]
    [InlineData("device_ns", "com1", "ten", CostSettingProblem.Value, "not a cost in whole nanoseconds")]
    [InlineData("instruction_ns", null, "NaN", CostSettingProblem.Value, "not a cost in nanoseconds")]
    public void Refusals_NameTheirProblem(string key, string? name, string value, CostSettingProblem problem, string text)
    {
        CostModelSettings? result = new CostModelSettings().With(key, name, value, out CostSettingError? error);

        Assert.Null(result);
        Assert.NotNull(error);
        Assert.Equal(problem, error.Problem);
        Assert.Contains(text, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Accepted_SetsTheCostAndNoError()
    {
        CostModelSettings? result = new CostModelSettings().With("device_ns", "com1", "250", out CostSettingError? error);

        Assert.Null(error);
        Assert.Equal(250, result!.DeviceNs["com1"]);
    }
}
