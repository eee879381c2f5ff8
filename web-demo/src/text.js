// What the page says, in one place.

/** Headings of the ended screen, by the SDK's end reason. */
export function endedText(reason, wasAdmitted, message) {
  switch (reason) {
    case "left":
      return { heading: "You left the visit." };
    case "visit_ended":
      return { heading: "The visit has ended." };
    case "denied":
      return wasAdmitted
        ? { heading: "You were removed from the visit.", detail: providerSays(message) }
        : { heading: "You could not join this visit.", detail: providerSays(message) };
    case "replaced":
      return { heading: "This visit is now open in another tab or window." };
    case "idle":
      return {
        heading: "You were disconnected because the page was inactive for a long time.",
      };
    case "unauthorized":
      return {
        heading: "This visit link has expired or was already used. Ask your clinic for a new link.",
      };
    default:
      return { heading: "The visit has ended." };
  }
}

function providerSays(message) {
  return message ? `Message from your provider: ${message}` : undefined;
}

/** Help for a camera or microphone that could not be opened. */
export function deviceHelp(error, what = "camera and microphone") {
  switch (error?.name) {
    case "NotAllowedError":
    case "SecurityError":
      return `Your browser is blocking the ${what} for this page. Click the camera or lock icon next to the web address, choose Allow, then choose Try again.`;
    case "NotReadableError":
    case "AbortError":
      return `Your ${what} is being used by another app, like Zoom or Teams. Close that app, then choose Try again.`;
    case "NotFoundError":
    case "OverconstrainedError":
      return `We couldn't find a ${what === "microphone" ? "microphone" : "camera"}. Check that it is plugged in, or join without camera.`;
    default:
      return `We couldn't start your ${what}. Choose Try again, or join without camera.`;
  }
}

/** An SDK error shown to the person. */
export function errorText(error) {
  if (error?.code === "rate_limited") return "You're sending messages too fast. Wait a moment.";
  return "Something went wrong. If the call stops working, leave and join again.";
}

/** "Dr. Ada (provider)". */
export function caption(p) {
  return p.role === "provider" ? `${p.name} (provider)` : p.name;
}

/** Digits grouped for reading aloud. */
export const SAFETY_HELP =
  "Read these numbers to each other on the phone or in person. If they are the same, choose Mark as verified.";

export function identityChangedText(name) {
  return `${name}'s security code changed. This can happen with a new phone or browser, but it can also mean someone is trying to listen in. Compare the numbers with ${name} by phone before you continue. Video and chat are paused until then.`;
}
