using TdxSim.Machine.Scenarios;

namespace TdxSim.Machine.Tests.Scenarios;

public sealed class NumberParserTests
{
    [Theory]
    [InlineData("0", 0UL)]
    [InlineData("42", 42UL)]
    [InlineData("0x10", 16UL)]
    [InlineData("0X1f", 31UL)]
    [InlineData("1_000", 1000UL)]
    [InlineData("0xffff_ffff_ffff_ffff", ulong.MaxValue)]
    [InlineData(" 7 ", 7UL)]
    public void TryParseNumber_Valid(string text, ulong expected)
    {
        Assert.True(NumberParser.TryParseNumber(text, out ulong v));
        Assert.Equal(expected, v);
    }

    [Theory]
    [InlineData("")]
    [InlineData("0x")]
    [InlineData("-1")]
    [InlineData("+1")]
    [InlineData("1.5")]
    [InlineData("1e9")]
    [InlineData("0x1g")]
    [InlineData("18446744073709551616")]
    [InlineData("ten")]
    public void TryParseNumber_Invalid(string text) => Assert.False(NumberParser.TryParseNumber(text, out _));

    [Theory]
    [InlineData("4096", 4096UL)]
    [InlineData("4K", 4096UL)]
    [InlineData("64M", 64UL << 20)]
    [InlineData("64MiB", 64UL << 20)]
    [InlineData("2G", 2UL << 30)]
    [InlineData("0x1000", 0x1000UL)]
    [InlineData("1m", 1UL << 20)]
    public void TryParseSize_Valid(string text, ulong expected)
    {
        Assert.True(NumberParser.TryParseSize(text, out ulong v));
        Assert.Equal(expected, v);
    }

    [Theory]
    [InlineData("12Q")]
    [InlineData("M")]
    [InlineData("17179869184G")]
    [InlineData("-4K")]
    public void TryParseSize_Invalid(string text) => Assert.False(NumberParser.TryParseSize(text, out _));
}
