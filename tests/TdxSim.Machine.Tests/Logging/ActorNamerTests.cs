using TdxSim.Machine.Logging;

namespace TdxSim.Machine.Tests.Logging;

public sealed class ActorNamerTests
{
    [Theory]
    [InlineData("/user/machine/vcpu/0", "vcpu/0")]
    [InlineData("/user/machine/tdx-module", "tdx-module")]
    [InlineData("/user/machine/vmm/3", "vmm/3")]
    [InlineData("/user/machine", "machine")]
    [InlineData("/user/probe", "probe")]
    [InlineData("/system/deadLetters", "system/deadLetters")]
    public void NameOf_StripsTheRoot(string path, string expected)
    {
        var namer = new ActorNamer();
        Assert.Equal(expected, namer.NameOf(path));
        Assert.Equal(expected, namer.LabelOf(new FakeActorRef(path)).Name);
    }

    [Fact]
    public void RootWithoutTrailingSlash_IsAccepted()
    {
        var namer = new ActorNamer("/user/td0");
        Assert.Equal("/user/td0/", namer.RootPath);
        Assert.Equal("vcpu/1", namer.NameOf("/user/td0/vcpu/1"));
    }

    [Fact]
    public void LabelOf_IsCachedPerRef()
    {
        var namer = new ActorNamer();
        var actor = new FakeActorRef("/user/machine/vcpu/7");
        Assert.Same(namer.LabelOf(actor), namer.LabelOf(actor));
        Assert.Equal("\"vcpu/7\"", System.Text.Encoding.UTF8.GetString(System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(namer.LabelOf(actor).Name)));
    }
}
