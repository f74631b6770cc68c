"""ProfileSet: the profiles folder loaded and compiled once; profile-stage validation."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from eolc_fhir.fhir.errors import Issue
from eolc_fhir.validation.compiler import base_type_of, compile_profile
from eolc_fhir.validation.fhirpath import InvariantCompileError
from eolc_fhir.validation.matching import binding_codes, values_at
from eolc_fhir.validation.nested import inner_resources
from eolc_fhir.validation.references import reference_issues
from eolc_fhir.validation.rules import CompiledProfile, ProfileCompileError
from eolc_fhir.validation.scope import Scope
from eolc_fhir.validation.terminology import Terminology
from eolc_fhir.validation.walker import check_profile

__all__ = ["ProfileSet", "DEFAULT_EXTERNAL_PROFILES"]

_BACKPORT = "http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/"
# Profiles of other guides that the server implements in code (the Subscriptions
# Backport IG) may be claimed without being in profiles/; anything else unknown is an error.
DEFAULT_EXTERNAL_PROFILES = frozenset(
    _BACKPORT + name
    for name in (
        "backport-subscription",
        "backport-subscription-status-r4",
        "backport-subscription-notification-r4",
        "backport-subscription-notification",
        "backport-subscriptionstatus",
    )
) | {"http://hl7.org/fhir/5.0/StructureDefinition/profile-SubscriptionTopic"}  # R4 topics
_CONFORMANCE_TYPES = ("StructureDefinition", "ValueSet", "CodeSystem")
_LOADED_TYPES = (*_CONFORMANCE_TYPES, "ImplementationGuide")  # the IG only for its global[]


class ProfileSet:
    """Every StructureDefinition / ValueSet / CodeSystem of profiles/, compiled."""

    def __init__(
        self,
        resources: Iterable[Mapping[str, Any]],
        *,
        external_profiles: Iterable[str] = DEFAULT_EXTERNAL_PROFILES,
        sources: Mapping[str, str] | None = None,
    ) -> None:
        loaded = [dict(r) for r in resources if r.get("resourceType") in _LOADED_TYPES]
        self._resources = [r for r in loaded if r["resourceType"] in _CONFORMANCE_TYPES]
        by_type: dict[str, list[dict[str, Any]]] = {t: [] for t in _LOADED_TYPES}
        for resource in loaded:
            by_type[resource["resourceType"]].append(resource)
        self.terminology = Terminology(by_type["CodeSystem"], by_type["ValueSet"])
        sds = {sd.get("url", f"#{i}"): sd for i, sd in enumerate(by_type["StructureDefinition"])}
        extensions = {url: sd for url, sd in sds.items() if sd.get("type") == "Extension"}
        self._sd_types = {url: sd.get("type", "") for url, sd in sds.items()}
        self._profiles: dict[str, CompiledProfile] = {}
        for url, sd in sds.items():
            if sd.get("kind") == "resource":
                self._profiles[url] = self._compile(sd, extensions, (sources or {}).get(url))
        self.profile_urls: list[str] = sorted(self._profiles)
        self.extension_urls: list[str] = sorted(extensions)
        self._external = frozenset(external_profiles)
        self._automatic: dict[str, list[CompiledProfile]] = {}
        for profile in self._profiles.values():
            if profile.applies_when:
                self._automatic.setdefault(profile.type, []).append(profile)
        self._global = self._global_profiles(by_type["ImplementationGuide"])

    def _compile(
        self, sd: Mapping[str, Any], extensions: Mapping[str, Any], source: str | None
    ) -> CompiledProfile:
        """Compile one profile; a failure names the file (when loaded from one) and element."""
        try:
            return compile_profile(sd, self.terminology, self._type_of, extensions)
        except InvariantCompileError as exc:
            raise InvariantCompileError(f"{source}: {exc}" if source else str(exc)) from exc
        except ProfileCompileError as exc:
            raise ProfileCompileError(f"{source}: {exc}" if source else str(exc)) from exc
        except (KeyError, TypeError, ValueError) as exc:  # malformed outside the elements
            where = source or sd.get("url")
            raise ProfileCompileError(f"{where}: cannot be compiled ({exc!r})") from exc

    def _global_profiles(self, guides: list[dict[str, Any]]) -> dict[str, list[str]]:
        """ImplementationGuide.global: profiles every resource of a type must meet."""
        found: dict[str, list[str]] = {}
        for guide in guides:
            for item in guide.get("global", []):
                url = str(item.get("profile", "")).split("|", 1)[0]
                if url not in self._profiles:
                    raise ProfileCompileError(
                        f"ImplementationGuide {guide.get('url')}: global profile {url} is not known"
                    )
                found.setdefault(str(item.get("type")), []).append(url)
        return found

    @classmethod
    def load(
        cls, profiles_dir: Path, *, external_profiles: Iterable[str] = DEFAULT_EXTERNAL_PROFILES
    ) -> ProfileSet:
        """Read every ``*.json`` conformance resource in the folder and compile the profiles."""
        resources = []
        sources: dict[str, str] = {}
        for path in sorted(Path(profiles_dir).glob("*.json")):
            resource = json.loads(path.read_text(encoding="utf-8"))
            if resource.get("resourceType") in _LOADED_TYPES:
                resources.append(resource)
                sources[str(resource.get("url"))] = path.name
        return cls(resources, external_profiles=external_profiles, sources=sources)

    def _type_of(self, url: str) -> str | None:
        return self._sd_types.get(url) or base_type_of(url)

    # -- public queries ----------------------------------------------------------
    def conformance_resources(self) -> list[dict[str, Any]]:
        """Every StructureDefinition, ValueSet and CodeSystem loaded (to publish)."""
        return [dict(r) for r in self._resources]

    def profile(self, url: str) -> CompiledProfile:
        return self._profiles[url.split("|", 1)[0]]

    def profiles_for_type(self, resource_type: str) -> list[str]:
        """Profile URLs on a resource type (CapabilityStatement.rest.resource.supportedProfile)."""
        return [url for url in self.profile_urls if self._profiles[url].type == resource_type]

    def applicable_profiles(self, resource: Mapping[str, Any]) -> list[str]:
        """Claimed (meta.profile, known ones), automatic and global profiles, no repeats."""
        kind = str(resource.get("resourceType", ""))
        urls = [u for u in self._claims(resource) if u in self._profiles]
        for profile in self._automatic.get(kind, []):
            if self._applies(profile, resource) and profile.url not in urls:
                urls.append(profile.url)
        urls.extend(u for u in self._global.get(kind, []) if u not in urls)
        return urls

    def _applies(self, profile: CompiledProfile, resource: Mapping[str, Any]) -> bool:
        return all(self._holds(path, vs, resource) for path, vs in profile.applies_when)

    def _holds(self, path: tuple[str, ...], vs: str, resource: Mapping[str, Any]) -> bool:
        for value in values_at(resource, path):
            codes = binding_codes(value) or []
            if any(self.terminology.contains(vs, system, code) for system, code in codes):
                return True
        return False

    @staticmethod
    def _claims(resource: Mapping[str, Any]) -> list[str]:
        meta = resource.get("meta")
        claims = meta.get("profile", []) if isinstance(meta, dict) else []
        return [c.split("|", 1)[0] for c in claims if isinstance(c, str)]

    # -- validation --------------------------------------------------------------
    def validate(
        self, resource: Mapping[str, Any], *, extra_profiles: Sequence[str] = ()
    ) -> list[Issue]:
        """Profile-stage issues for a resource that already passed base validation: its
        profiles, then the resources it carries (contained, Bundle entries, Parameters)."""
        resource_type = str(resource.get("resourceType", ""))
        issues = self._unknown_claims(resource, resource_type)
        urls = self.applicable_profiles(resource)
        for url in (u.split("|", 1)[0] for u in extra_profiles):
            if url not in self._profiles:
                if url != f"http://hl7.org/fhir/StructureDefinition/{resource_type}":
                    issues.append(
                        Issue(
                            "error",
                            "not-supported",
                            f"The profile {url} is not known to this server",
                            (resource_type,),
                        )
                    )
            elif url not in urls:
                urls.append(url)
        scope = Scope.top(resource)
        issues.extend(self.check_resource(resource, urls, resource_type, scope))
        issues.extend(self._check_inner(resource, resource_type, scope))
        return list(dict.fromkeys(issues))

    def _check_inner(self, resource: Mapping[str, Any], expr: str, scope: Scope) -> list[Issue]:
        issues = reference_issues(resource, expr, scope.resolver)
        for item, item_expr, item_scope, contained in inner_resources(resource, expr, scope):
            kind = str(item.get("resourceType", ""))
            for issue in self._unknown_claims(item, kind):
                issues.append(
                    Issue(
                        issue.severity,
                        issue.code,
                        issue.diagnostics,
                        (item_expr + issue.expression[0][len(kind) :],),
                    )
                )
            urls = self.applicable_profiles(item)
            issues.extend(self.check_resource(item, urls, item_expr, item_scope))
            if not contained:  # a contained resource's references are its container's
                issues.extend(self._check_inner(item, item_expr, item_scope))
        return issues

    def check_resource(
        self, resource: Mapping[str, Any], urls: Sequence[str], expr: str, scope: Scope
    ) -> list[Issue]:
        """Issues of ``resource`` (at ``expr``) against each of the profiles ``urls``."""
        resource_type = str(resource.get("resourceType", ""))
        issues: list[Issue] = []
        for url in urls:
            profile = self._profiles.get(url)
            if profile is None:
                message = f"The profile {url} is not known to this server"
                issues.append(Issue("error", "not-supported", message, (expr,)))
            elif profile.type != resource_type:
                message = f"The profile {profile.name} is for {profile.type}, not {resource_type}"
                issues.append(Issue("error", "structure", message, (expr,)))
            else:
                issues.extend(check_profile(profile, resource, self.terminology, scope, self, expr))
        return issues

    def _unknown_claims(self, resource: Mapping[str, Any], resource_type: str) -> list[Issue]:
        issues = []
        base = f"http://hl7.org/fhir/StructureDefinition/{resource_type}"
        for index, url in enumerate(self._claims(resource)):
            if url in self._profiles or url in self._external or url == base:
                continue
            issues.append(
                Issue(
                    "error",
                    "not-supported",
                    f"meta.profile claims {url}, which this server does not know",
                    (f"{resource_type}.meta.profile[{index}]",),
                )
            )
        return issues
