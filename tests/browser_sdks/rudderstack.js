// RudderStack's v3 browser SDK with its plugins bundled in (no plugin CDN): window.RudderAnalytics.
import { RudderAnalytics } from "@rudderstack/analytics-js/bundled";

window.RudderAnalytics = RudderAnalytics;
