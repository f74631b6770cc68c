"""ProfileSet: the profiles folder loaded and compiled once; profile-stage validation."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from eolc_fhir.fhir.errors import Issue
from eolc_fhir.validation.compiler import base_type_of, compile_profile
from eolc_fhir.validation.matching import binding_codes, values_at
from eolc_fhir.validation.rules import CompiledProfile
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


class ProfileSet:
    """Every StructureDefinition / ValueSet / CodeSystem of profiles/, compiled."""

    def __init__(
        self,
        resources: Iterable[Mapping[str, Any]],
        *,
        external_profiles: Iterable[str] = DEFAULT_EXTERNAL_PROFILES,
    ) -> None:
        self._resources = [
            dict(r) for r in resources if r.get("resourceType") in _CONFORMANCE_TYPES
        ]
        by_type: dict[str, list[dict[str, Any]]] = {t: [] for t in _CONFORMANCE_TYPES}
        for resource in self._resources:
            by_type[resource["resourceType"]].append(resource)
        self.terminology = Terminology(by_type["CodeSystem"], by_type["ValueSet"])
        sds = {sd["url"]: sd for sd in by_type["StructureDefinition"]}
        extensions = {url: sd for url, sd in sds.items() if sd.get("type") == "Extension"}
        self._sd_types = {url: sd["type"] for url, sd in sds.items()}
        self._profiles: dict[str, CompiledProfile] = {
            url: compile_profile(sd, self.terminology, self._type_of, extensions)
            for url, sd in sds.items()
            if sd.get("kind") == "resource"
        }
        self.profile_urls: list[str] = sorted(self._profiles)
        self.extension_urls: list[str] = sorted(extensions)
        self._external = frozenset(external_profiles)
        self._automatic: dict[str, list[CompiledProfile]] = {}
        for profile in self._profiles.values():
            if profile.applies_when:
                self._automatic.setdefault(profile.type, []).append(profile)

    @classmethod
    def load(
        cls, profiles_dir: Path, *, external_profiles: Iterable[str] = DEFAULT_EXTERNAL_PROFILES
    ) -> ProfileSet:
        """Read every ``*.json`` conformance resource in the folder and compile the profiles."""
        resources = []
        for path in sorted(Path(profiles_dir).glob("*.json")):
            resource = json.loads(path.read_text(encoding="utf-8"))
            if resource.get("resourceType") in _CONFORMANCE_TYPES:
                resources.append(resource)
        return cls(resources, external_profiles=external_profiles)

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
        """Claimed (meta.profile, known ones) plus automatic profiles, in that order, no repeats."""
        urls = [u for u in self._claims(resource) if u in self._profiles]
        for profile in self._automatic.get(resource.get("resourceType", ""), []):
            if self._applies(profile, resource) and profile.url not in urls:
                urls.append(profile.url)
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
        """Profile-stage issues for a resource that already passed base validation."""
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
        for url in urls:
            profile = self._profiles[url]
            if profile.type != resource_type:
                issues.append(
                    Issue(
                        "error",
                        "structure",
                        f"The profile {profile.name} is for {profile.type}, not {resource_type}",
                        (resource_type,),
                    )
                )
                continue
            issues.extend(check_profile(profile, resource, self.terminology))
        return list(dict.fromkeys(issues))

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
