namespace TdxSim.Images;

/// <summary>
/// A guest image that cannot be loaded: unreadable, malformed, not x86-64, or not fitting the guest
/// machine. The message is one line naming the problem (and the offset or segment where useful), fit to
/// be shown to the user as is (contract section 2: "a bad ... image is rejected before the guest starts
/// with one clear line naming what is wrong").
/// </summary>
public sealed class ImageFormatException : Exception
{
    /// <summary>Creates an exception with no message (prefer the message overloads).</summary>
    public ImageFormatException()
        : base("invalid guest image")
    {
    }

    /// <summary>Creates an exception with a one-line message.</summary>
    public ImageFormatException(string message)
        : base(message)
    {
    }

    /// <summary>Creates an exception with a one-line message and the underlying cause.</summary>
    public ImageFormatException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
