"""What the scripted candidate says, and the voice that says it.

The answers are written for the example job's two spoken questions, in each of its
languages, so that they carry the rubric's words (a cause found, the line stopped, the team
leader told; a handover with counts recorded). They are spoken by espeak-ng, which is a
machine voice: Whisper hears it less well than a person (its Mandarin reads characters it
has no entry for as pinyin), which the demo says, with the character error rate.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from device.errors import KioskError

#: espeak-ng voice per interview language.
VOICES = {"en": "en-us", "ko": "ko", "zh-CN": "cmn-latn-pinyin"}
#: Speed and word gaps: espeak's Mandarin is heard best a little slower, words apart.
PACE = {"zh-CN": ("-s", "130", "-g", "2")}

ANSWERS: dict[str, dict[str, tuple[str, str]]] = {
    # item id -> language -> (full answer, short answer for --ci)
    "quality-issue-found": {
        "en": ("Last year on the assembly line I found a scratch defect on the brackets during"
               " the visual check. I stopped the line and told my team leader. We set the"
               " parts aside in quarantine, traced the root cause to a burr on the jig, and"
               " reworked them. After the fix we had no more rejects.",
               "I found a defect, stopped the line and told my team leader."),
        "ko": ("작년에 조립 라인에서 외관 검사를 하다가 브래킷에 긁힘 불량을 발견했습니다."
               " 바로 라인 정지를 요청하고 반장님께 보고했습니다. 불량품은 격리하고 원인을"
               " 확인해 보니 지그에 버가 있었습니다. 재작업으로 해결했습니다.",
               "불량을 발견해서 라인 정지를 하고 반장님께 보고했습니다."),
        "zh-CN": ("去年在装配线上做外观检查时，我发现支架有划伤不良。我马上停线，报告了班长。"
                  "我们把不良品隔离，查原因发现是夹具有毛刺，返工以后问题解决了。",
                  "我发现了不良，马上停线并报告了班长。"),
    },
    "shift-teamwork-handover": {
        "en": ("At the end of my shift I do the handover with the next team. We split the work"
               " by station, I record the count of finished parts and anything abnormal, and"
               " we confirm it together so nothing is lost between shifts.",
               "At handover I record the count and confirm it with the next team."),
        "ko": ("교대할 때 다음 조와 인수인계를 합니다. 공정별로 일을 분담하고, 완성품 수량과"
               " 이상 사항을 기록한 뒤 함께 확인합니다. 그래서 교대 사이에 빠지는 일이"
               " 없습니다.",
               "교대할 때 수량을 기록하고 인수인계를 확인합니다."),
        "zh-CN": ("下班前我和下一班做交接班。我们按工位分工，我记录完成的数量和异常情况，"
                  "然后一起确认，这样交接的时候不会漏掉。",
                  "交接班时我记录数量，和下一班一起确认。"),
    },
}


def answer_text(item_id: str, language: str, short: bool) -> str:
    full, brief = ANSWERS[item_id][language]
    return brief if short else full


def speak(text: str, language: str, out: Path) -> Path:
    """``text`` spoken by espeak-ng into a WAV file."""
    espeak = shutil.which("espeak-ng")
    if espeak is None:
        raise KioskError("espeak-ng is needed to speak the demo candidate's answers; run"
                         " `make system-packages` (Debian: espeak-ng)")
    done = subprocess.run([espeak, "-v", VOICES[language], *PACE.get(language, ("-s", "150")),
                           "-w", str(out), text],
                          capture_output=True, text=True, check=False, timeout=60)
    if done.returncode != 0 or not out.is_file():
        raise KioskError(f"espeak-ng could not speak the {language} answer:"
                         f" {done.stderr.strip() or f'status {done.returncode}'}")
    return out
