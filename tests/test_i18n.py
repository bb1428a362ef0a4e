"""The admin speaks Chinese when asked, with the notes' field meanings (含义)."""

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_chinese_admin_renders_field_meanings(admin_client_logged_in, demo_data):
    page = admin_client_logged_in.get(
        reverse("admin:coretasker_workflowtask_changelist"), HTTP_ACCEPT_LANGUAGE="zh-hans"
    ).content.decode()
    for meaning in ["底层主任务", "节点名", "客户ID", "任务类型"]:
        assert meaning in page


def test_chinese_admin_change_form_has_field_meanings(admin_client_logged_in, demo_data):
    from coretasker.models import WorkflowTask

    task = WorkflowTask.objects.first()
    page = admin_client_logged_in.get(
        reverse("admin:coretasker_workflowtask_change", args=[task.pk]), HTTP_ACCEPT_LANGUAGE="zh-hans"
    ).content.decode()
    for meaning in ["错误信息", "任务参数", "任务执行结果", "节点ID", "是否有效", "更新时间", "创建时间"]:
        assert meaning in page


def test_english_is_the_default(admin_client_logged_in, demo_data):
    page = admin_client_logged_in.get(reverse("admin:coretasker_workflowtask_changelist")).content.decode()
    assert "Workflow tasks" in page or "workflow tasks" in page
    assert "底层主任务" not in page


def test_user_switches_language_from_the_admin(admin_client_logged_in, demo_data):
    client = admin_client_logged_in
    index = client.get(reverse("admin:index")).content.decode()
    assert 'name="language"' in index
    client.post(reverse("set_language"), {"language": "zh-hans", "next": "/admin/"})
    page = client.get(reverse("admin:coretasker_workflowtask_changelist")).content.decode()
    assert "云运维平台" in page and "底层主任务" in page
